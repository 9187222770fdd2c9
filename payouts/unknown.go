package payouts

import (
	"context"
	"fmt"
)

// What monitoring reads of the chunks across every batch: the chunks whose outcome is unknown
// (the reconciliation's "unknown payouts" check) and how many chunks are in each state (the
// nordpay_jobs_payout_chunks gauge).

// ChunkStates lists every chunk state, in the order of the state machine.
var ChunkStates = []ChunkState{ChunkPlanned, ChunkRequested, ChunkConfirming, ChunkConfirmed, ChunkFailed, ChunkUnknown}

// UnknownChunks lists every chunk whose outcome is unknown, of every batch, oldest first:
// money may have left for them without a withdrawal entry in the ledger, until a person
// resolves them (Store.Resolve). A chunk's UpdatedAt is when it became unknown, since an
// unknown chunk changes only when it is resolved.
func (s *Store) UnknownChunks(ctx context.Context) ([]*Chunk, error) {
	rows, err := s.db.QueryxContext(ctx, `
		SELECT `+chunkColumns+`
		FROM payout_chunks
		WHERE state = 'unknown'
		ORDER BY updated_at, batch_id, n`)
	if err != nil {
		return nil, fmt.Errorf("payouts: unable to list the chunks in an unknown state: %w", err)
	}
	defer rows.Close()
	var out []*Chunk
	for rows.Next() {
		c, err := scanChunk(rows)
		if err != nil {
			return nil, fmt.Errorf("payouts: unable to read a chunk in an unknown state: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payouts: unable to list the chunks in an unknown state: %w", err)
	}
	return out, nil
}

// CountChunks returns how many chunks, of every batch, are in each state; every state of
// ChunkStates is present, at zero when no chunk is in it, so that a gauge built on it shows
// each state from the start.
func (s *Store) CountChunks(ctx context.Context) (map[ChunkState]int64, error) {
	out := make(map[ChunkState]int64, len(ChunkStates))
	for _, st := range ChunkStates {
		out[st] = 0
	}
	rows, err := s.db.QueryxContext(ctx, `SELECT state, count(*) FROM payout_chunks GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("payouts: unable to count the chunks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			state ChunkState
			n     int64
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("payouts: unable to count the chunks: %w", err)
		}
		out[state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payouts: unable to count the chunks: %w", err)
	}
	return out, nil
}
