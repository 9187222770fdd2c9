package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/nordpay/nordpay-jobs/nordpay/sandbox"
	"github.com/nordpay/nordpay-jobs/payouts"
)

// demoPayout is one row of the demo's payout sheet, as finance would type it.
type demoPayout struct {
	Currency, Address, Amount, Reference, Name, Note string
}

// demoPayoutRows are the demo's payout sheet: a few people in four currencies. The addresses
// are valid on each network (TRON base58check, EIP-55 checksummed EVM addresses, a bech32
// Bitcoin address); the amounts are above each currency's minimum withdrawal, far below what
// the demo month leaves on the balance, and large enough for the sandbox's fee (fixed plus
// 0.5%) to stay under payouts.fee_ceiling_percent.
var demoPayoutRows = []demoPayout{
	{"USDTTRC20", "TAMCL27geZuMxmsxp5L5VyBUfuTBMN9t9j", "1250", "COM-2026-001", "Ana Lima", "sales commission"},
	{"USDTTRC20", "TVzUhHX8SqgVd1mmuogaQWw7EYEpsXgfKN", "480.25", "COM-2026-002", "Bo Chen", "sales commission"},
	{"USDTBEP20", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "2100", "SUP-118", "Cy Okafor Design", "supplier invoice 118"},
	{"USDTBEP20", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", "75.5", "REF-88213", "Dee Park", "refund of order 88213"},
	{"BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "0.0125", "CTR-DI-11", "Di Novak", "contractor"},
	{"ETHERC20", "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0.35", "AFF-ES-11", "Esme Rao", "affiliate payout"},
}

// demoImporter imports the sheet; demoApprovers approve it, as many as payouts.approvers
// (and its thresholds) ask for, none of them the importer.
const demoImporter = "alice"

var demoApprovers = []string{"bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory"}

// payouts writes the sample sheet, then imports, approves and runs it with the payouts
// commands, and checks what happened against the sandbox's record of what it paid and the
// ledger's withdrawal entries: every row paid once, booked once. since is a time before
// any payout can be booked (the end of the demo month).
func (d *demo) payouts(ctx context.Context, srv *sandbox.Server, currencies []nordpay.Currency, store *ledger.Store, since time.Time) error {
	sheet := d.path("payouts-sample.xlsx")
	report := d.path("payouts-sample-checked.xlsx")
	var withdraw []string
	for _, c := range currencies {
		if c.WithdrawEnabled() {
			withdraw = append(withdraw, c.Name)
		}
	}
	sort.Strings(withdraw)
	if err := writeDemoSheet(sheet, withdraw, demoPayoutRows); err != nil {
		return err
	}
	inSheet := map[string]bool{}
	for _, r := range demoPayoutRows {
		inSheet[r.Currency] = true
	}
	d.say("Payout sheet: the payouts template (as nordpay-jobs payouts template writes it) filled in with %d rows in %d currencies: %s",
		len(demoPayoutRows), len(inSheet), sheet)
	tw := tabwriter.NewWriter(d.m.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%sreference\tcurrency\tamount\taddress\tname\n", demoIndent)
	for _, r := range demoPayoutRows {
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", demoIndent, r.Reference, r.Currency, r.Amount, r.Address, r.Name)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := d.addFile(sheet, fmt.Sprintf("the sample payout sheet: %d rows in %d currencies, as finance fills in the payouts template", len(demoPayoutRows), len(inSheet))); err != nil {
		return err
	}

	d.say("Payouts: %s imports the sheet; every row is validated (currency, address for its network, amount, repeats, balance)", demoImporter)
	if _, err := d.command(ctx, true, "payouts", "import", sheet, "--by", demoImporter, "--report", report); err != nil {
		return err
	}
	if len(d.m.Config.Payouts.Fees) == 0 {
		d.m.printf("%s(expected fee 0: payouts.fees is not configured; the quotes below carry the sandbox's fees, fixed + 0.5%% a row)\n", demoIndent)
	}
	if err := d.addFile(report, "the payout sheet written back by payouts import --report, with status and errors columns"); err != nil {
		return err
	}
	pst := payouts.NewStore(store, payoutPolicy(d.m.Config.Payouts))
	pst.Now = d.m.Now
	sha, err := fileSHA256(sheet)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	batch, err := pst.FindSheet(ctx, sha)
	if err != nil {
		return err
	}
	if batch == nil {
		return errors.New("demo: payouts import made no batch of the sample sheet")
	}
	status, err := pst.Status(ctx, batch.ID)
	if err != nil {
		return err
	}
	var approvers []string
	for i := 0; !status.Approved(); i++ {
		if i == len(demoApprovers) {
			return fmt.Errorf("demo: batch %s needs %d approvals; the demo has %d approvers", batch.ID, status.RequiredApprovers, len(demoApprovers))
		}
		by := demoApprovers[i]
		d.say("Payouts: %s approves batch %s (%d of %d approvals; the importer may not approve), bound to the sheet reviewed; "+
			"here both run from one OS account, so the tool warns that the approvals are only as separate as the names typed", by, batch.ID, i+1, status.RequiredApprovers)
		if _, err := d.command(ctx, true, "payouts", "approve", batch.ID, "--by", by, "--sheet", sheet); err != nil {
			return err
		}
		approvers = append(approvers, by)
		if status, err = pst.Status(ctx, batch.ID); err != nil {
			return err
		}
	}

	d.say("Payouts: pay batch %s through the sandbox: one request per currency, check each quote, confirm, book", batch.ID)
	if _, err := d.command(ctx, true, "payouts", "run", batch.ID); err != nil {
		return err
	}
	if status, err = pst.Status(ctx, batch.ID); err != nil {
		return err
	}
	if status.State != payouts.BatchPaid || status.RowsPaid != len(demoPayoutRows) {
		return fmt.Errorf("demo: batch %s is %s with %d of %d rows paid", batch.ID, status.State, status.RowsPaid, len(demoPayoutRows))
	}
	paid, err := d.checkPaid(ctx, srv, store, batch.ID, since)
	if err != nil {
		return err
	}
	d.sum.Payouts = demoPayoutsJSON{Batch: batch.ID, State: string(status.State), Rows: len(demoPayoutRows), RowsPaid: status.RowsPaid,
		Chunks: len(status.Chunks), ImportedBy: demoImporter, ApprovedBy: approvers, Paid: paid}
	fees := map[string]decimal.Decimal{}
	for _, p := range paid {
		fees[p.Currency] = fees[p.Currency].Add(decimal.RequireFromString(p.ServiceFee))
	}
	d.say("Payouts: batch %s is %s: %d rows in %d chunks; the sandbox paid each row once and the ledger booked each once (%d withdrawal entries); fees %s",
		batch.ID, status.State, status.RowsPaid, len(status.Chunks), len(paid), formatAmounts(fees))
	return nil
}

// checkPaid matches the sheet's rows with the sandbox's record of what it paid and with the
// ledger's withdrawal entries of the batch (external id "<batch>/<reference>"), and fails
// unless each row was paid exactly once and booked exactly once.
func (d *demo) checkPaid(ctx context.Context, srv *sandbox.Server, store *ledger.Store, batch string, since time.Time) ([]demoPaymentJSON, error) {
	key := func(currency, address string, amount decimal.Decimal) string {
		return currency + "|" + strings.ToLower(address) + "|" + amount.String()
	}
	payments := map[string][]sandbox.Payment{}
	for _, p := range srv.Payments() {
		k := key(p.Currency, p.Address, p.Amount)
		payments[k] = append(payments[k], p)
	}
	booked := map[string]int{}
	for e, err := range store.Entries(ctx, ledger.EntryFilter{From: since}) {
		if err != nil {
			return nil, err
		}
		if ref, ok := strings.CutPrefix(e.ExternalID, batch+"/"); ok && e.Source == ledger.SourceWithdrawal {
			booked[ref]++
		}
	}
	var out []demoPaymentJSON
	var problems []string
	for _, r := range demoPayoutRows {
		amount := decimal.RequireFromString(r.Amount)
		ps := payments[key(r.Currency, r.Address, amount)]
		if len(ps) != 1 || booked[r.Reference] != 1 {
			problems = append(problems, fmt.Sprintf("%s paid %d times, booked %d times", r.Reference, len(ps), booked[r.Reference]))
			continue
		}
		out = append(out, demoPaymentJSON{Reference: r.Reference, Currency: r.Currency, Address: r.Address, Amount: amount.String(),
			ServiceFee: ps[0].ServiceFee.String(), WithdrawalID: ps[0].WithdrawalID, Identifier: ps[0].Identifier,
			SandboxPayments: len(ps), LedgerEntries: booked[r.Reference]})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("demo: batch %s was not paid exactly once: %s", batch, strings.Join(problems, "; "))
	}
	return out, nil
}

// writeDemoSheet fills in the XLSX payout template with rows, as finance would, and puts it
// at path (replacing an earlier one only once it is complete).
func writeDemoSheet(path string, currencies []string, rows []demoPayout) (err error) {
	var tpl bytes.Buffer
	if err := payouts.WriteTemplate(&tpl, "xlsx", currencies); err != nil {
		return err
	}
	f, err := excelize.OpenReader(&tpl)
	if err != nil {
		return fmt.Errorf("demo: reading the payout template: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("demo: %w", cerr)
		}
	}()
	sheet := f.GetSheetName(0)
	for i, r := range rows {
		values := map[string]string{payouts.ColCurrency: r.Currency, payouts.ColAddress: r.Address, payouts.ColAmount: r.Amount,
			payouts.ColReference: r.Reference, payouts.ColName: r.Name, payouts.ColNote: r.Note}
		for j, col := range payouts.Columns {
			cell, err := excelize.CoordinatesToCellName(j+1, i+2)
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if err := f.SetCellStr(sheet, cell, values[col]); err != nil {
				return fmt.Errorf("demo: filling in the payout sheet: %w", err)
			}
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return fmt.Errorf("demo: writing %s: %w", path, err)
	}
	return writeFileAtomic(path, buf.Bytes())
}
