package payouts_test

import (
	"context"
	"testing"

	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/nordpay/nordpay-jobs/payouts"
)

func TestUnknownChunksAndCounts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("NoChunksYet", func(t *testing.T) {
		unknown, err := b.store.UnknownChunks(ctx)
		if err != nil || len(unknown) != 0 {
			t.Fatalf("UnknownChunks = %v, %v", unknown, err)
		}
		counts, err := b.store.CountChunks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) != len(payouts.ChunkStates) {
			t.Fatalf("counts %v: every state must be present", counts)
		}
		for st, n := range counts {
			if n != 0 {
				t.Errorf("%s: %d", st, n)
			}
		}
	})

	batch, _ := b.approved(t)
	b.sb.InjectFault(routeConfirm, sandbox.FaultLostAnswer)
	if _, err := b.run(t, batch.ID); err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := chunkStates(b.status(t, batch.ID)); got != "1:unknown 2:confirmed 3:confirmed" {
		t.Fatalf("chunks %s", got)
	}

	t.Run("TheUnknownChunkIsListed", func(t *testing.T) {
		unknown, err := b.store.UnknownChunks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(unknown) != 1 {
			t.Fatalf("UnknownChunks = %+v", unknown)
		}
		c := unknown[0]
		first := b.status(t, batch.ID).Chunks[0]
		if c.Batch != batch.ID || c.N != 1 || c.State != payouts.ChunkUnknown || c.Currency != first.Currency || c.Rows != first.Rows ||
			!c.Amount.Equal(first.Amount) || c.Identifier() == "" || c.Identifier() != first.Identifier() || c.UpdatedAt.IsZero() || c.Reason == "" {
			t.Fatalf("chunk %+v", c)
		}
		counts, err := b.store.CountChunks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[payouts.ChunkUnknown] != 1 || counts[payouts.ChunkConfirmed] != 2 || counts[payouts.ChunkPlanned] != 0 {
			t.Fatalf("counts %v", counts)
		}
	})

	t.Run("ResolvedIsNoLongerListed", func(t *testing.T) {
		if _, err := b.store.Resolve(ctx, batch.ID, 1, payouts.OutcomePaid, "dave", "checked"); err != nil {
			t.Fatal(err)
		}
		unknown, err := b.store.UnknownChunks(ctx)
		if err != nil || len(unknown) != 0 {
			t.Fatalf("UnknownChunks = %+v, %v", unknown, err)
		}
		counts, err := b.store.CountChunks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[payouts.ChunkUnknown] != 0 || counts[payouts.ChunkConfirmed] != 3 {
			t.Fatalf("counts %v", counts)
		}
	})
}
