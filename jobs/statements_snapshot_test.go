package jobs_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/jobs"
	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
)

// TestStatementsKindOneSnapshot books an entry of the day being written between two of
// the slot's formats (as a sync booking late entries would): every format is read from one
// snapshot, so none holds it and the files agree; the slot run again holds it in every file.
func TestStatementsKindOneSnapshot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.run(t, jobs.SyncOptions{Start: testStart})
	slot := time.Date(2026, 11, 16, 0, 30, 0, 0, time.UTC)
	from, _ := jobs.PreviousDay(slot)
	const lateID = "990201"
	d := decimal.RequireFromString
	late := b.store.Chart().TransactionEntry(&nordpay.Transaction{ID: nordpay.ID(lateID), SourceType: nordpay.SourceInvoice,
		Source:   nordpay.Source{ID: nordpay.ID("inv-late"), Label: "late order"},
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{Name: "USDTBEP20"}},
		Amount:   d("25"), AmountUSD: d("25"), NetworkFee: d("0.5"), NetworkFeeUSD: d("0.5"),
		ServiceFee: d("0.25"), ServiceFeeUSD: d("0.25"), TxHash: "0xlate", IsPaid: true,
		CreatedAt: nordpay.Time{Time: from.Add(12 * time.Hour)}}, ledger.SourceInvoice)

	opts := jobs.StatementsKindOptions{Store: b.store, Now: b.clock.Now}
	var booked []string
	jobs.SetStatementsHook(&opts, func(ctx context.Context, format string) error {
		if len(booked) == 0 { // after the first format only
			if _, ok, err := b.store.Post(ctx, late); err != nil || !ok {
				t.Fatalf("booking the late entry: %v (booked %v)", err, ok)
			}
		}
		booked = append(booked, format)
		return nil
	})
	kind := jobs.StatementsKind(opts)
	dir := t.TempDir()
	settings := map[string]any{"out_dir": dir, "formats": []any{"csv", "xlsx", "hledger", "beancount"}}

	// check says whether each file shows the late entry, and returns the number of rows of
	// the CSV and of the XLSX's currency sheets.
	check := func(want bool) (csvLines, xlsxLines int) {
		t.Helper()
		for _, name := range []string{"csv", "journal", "beancount"} {
			data, err := os.ReadFile(filepath.Join(dir, "statement-2026-11-15."+name))
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Contains(data, []byte(lateID)); got != want {
				t.Errorf("%s holds the late entry: %v, want %v", name, got, want)
			}
			if name == "csv" {
				csvLines = bytes.Count(data, []byte("\n"))
			}
		}
		f, err := excelize.OpenFile(filepath.Join(dir, "statement-2026-11-15.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var got bool
		for _, sheet := range f.GetSheetList()[1:] {
			rows, err := f.GetRows(sheet)
			if err != nil {
				t.Fatal(err)
			}
			xlsxLines += len(rows)
			for _, row := range rows {
				got = got || strings.Contains(strings.Join(row, "\x00"), lateID)
			}
		}
		if got != want {
			t.Errorf("xlsx holds the late entry: %v, want %v", got, want)
		}
		return csvLines, xlsxLines
	}

	res, err := runKind(t, kind, settings, slot)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(booked, ",") != "csv,xlsx,hledger,beancount" {
		t.Fatalf("the hook ran after %v", booked)
	}
	before := res.Summary.(*jobs.StatementsSummary).Lines
	csv1, xlsx1 := check(false)

	res, err = runKind(t, kind, settings, slot)
	if err != nil {
		t.Fatal(err)
	}
	if after := res.Summary.(*jobs.StatementsSummary).Lines; after != before+1 {
		t.Fatalf("the slot run again has %d lines, the first run %d", after, before)
	}
	csv2, xlsx2 := check(true)
	if csv2 != csv1+1 || xlsx2 != xlsx1+1 {
		t.Errorf("CSV rows %d then %d, XLSX rows %d then %d: each should have one line more", csv1, csv2, xlsx1, xlsx2)
	}
}
