package ledger

import (
	"fmt"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// Quarantine reasons: a record that breaks one of them is set aside with the reason and
// reported, never booked, never silently skipped.
const (
	ReasonUndecodable     = "undecodable"
	ReasonNoID            = "no id"
	ReasonNoTime          = "no created_at"
	ReasonUnknownCurrency = "unknown currency"
	ReasonNegative        = "negative amount"
	ReasonZeroAmount      = "zero amount on a paid transaction"
	ReasonFeesAboveAmount = "fees above the amount"
	ReasonWrongSource     = "source type does not match the endpoint"
)

// RecordProblem says why a transaction cannot be booked.
type RecordProblem struct {
	Reason string
	Detail string
}

func (p *RecordProblem) Error() string {
	if p.Detail == "" {
		return p.Reason
	}
	return p.Reason + ": " + p.Detail
}

// CheckTransaction applies the quarantine rules to a transaction pulled from the endpoint of
// sourceType; known holds the currencies /currencies/ lists. A nil result means the
// transaction can be booked (if paid) or counted (if unpaid).
func CheckTransaction(tx *nordpay.Transaction, sourceType string, known func(string) bool) *RecordProblem {
	switch {
	case strings.TrimSpace(tx.ID.String()) == "":
		return &RecordProblem{Reason: ReasonNoID}
	case tx.SourceType != "" && tx.SourceType != sourceType:
		return &RecordProblem{Reason: ReasonWrongSource, Detail: fmt.Sprintf("%q from the %s endpoint", tx.SourceType, sourceType)}
	case tx.CreatedAt.IsZero():
		return &RecordProblem{Reason: ReasonNoTime}
	case tx.Currency.Name == "" || !known(tx.Currency.Name):
		return &RecordProblem{Reason: ReasonUnknownCurrency, Detail: fmt.Sprintf("%q", tx.Currency.Name)}
	}
	for _, f := range []struct {
		name string
		v    decimal.Decimal
	}{
		{"amount", tx.Amount}, {"network_fee", tx.NetworkFee}, {"service_fee", tx.ServiceFee},
		{"amount_usd", tx.AmountUSD}, {"network_fee_usd", tx.NetworkFeeUSD}, {"service_fee_usd", tx.ServiceFeeUSD},
	} {
		if f.v.Sign() < 0 {
			return &RecordProblem{Reason: ReasonNegative, Detail: fmt.Sprintf("%s %s", f.name, f.v)}
		}
	}
	if tx.IsPaid && tx.Amount.IsZero() {
		return &RecordProblem{Reason: ReasonZeroAmount}
	}
	if fees := tx.NetworkFee.Add(tx.ServiceFee); fees.GreaterThan(tx.Amount) {
		return &RecordProblem{Reason: ReasonFeesAboveAmount, Detail: fmt.Sprintf("fees %s, amount %s", fees, tx.Amount)}
	}
	return nil
}

// TransactionEntry is the posting rule for a paid invoice or wallet transaction: Dr assets
// (net), Dr network fee, Dr service fee, Cr income (gross), each with its USD value. Fees of
// zero get no posting. The transaction must have passed CheckTransaction.
func (c Chart) TransactionEntry(tx *nordpay.Transaction, sourceType string) Entry {
	cur := tx.Currency.Name
	income := c.InvoiceIncome
	if sourceType == SourceWallet {
		income = c.WalletIncome
	}
	e := Entry{
		Source:      sourceType,
		ExternalID:  tx.ID.String(),
		OccurredAt:  tx.CreatedAt.UTC(),
		Description: describe(tx, sourceType),
		TxHash:      tx.TxHash,
		Label:       tx.Source.Label,
		Address:     tx.Source.Address,
		SourceRef:   tx.Source.ID.String(),
		Postings:    make([]Posting, 0, 4),
	}
	usd := func(d decimal.Decimal) decimal.NullDecimal { return decimal.NullDecimal{Decimal: d, Valid: true} }
	e.Postings = append(e.Postings, Posting{Account: name(c.Assets, cur), Type: Asset, Currency: cur, Amount: tx.Net(), AmountUSD: usd(tx.NetUSD())})
	if !tx.NetworkFee.IsZero() || !tx.NetworkFeeUSD.IsZero() {
		e.Postings = append(e.Postings, Posting{Account: name(c.NetworkFees, cur), Type: Expense, Currency: cur, Amount: tx.NetworkFee, AmountUSD: usd(tx.NetworkFeeUSD)})
	}
	if !tx.ServiceFee.IsZero() || !tx.ServiceFeeUSD.IsZero() {
		e.Postings = append(e.Postings, Posting{Account: name(c.ServiceFees, cur), Type: Expense, Currency: cur, Amount: tx.ServiceFee, AmountUSD: usd(tx.ServiceFeeUSD)})
	}
	e.Postings = append(e.Postings, Posting{Account: name(income, cur), Type: Income, Currency: cur, Amount: tx.Amount.Neg(), AmountUSD: usd(tx.AmountUSD.Neg())})
	return e
}

func describe(tx *nordpay.Transaction, sourceType string) string {
	ref := tx.Source.Label
	if ref == "" {
		ref = sourceType + " " + tx.Source.ID.String()
	}
	return fmt.Sprintf("%s payment %s (%s)", sourceType, tx.ID, oneLine(ref))
}

// oneLine folds a user-supplied text onto one line for descriptions.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Withdrawal is one paid row of a confirmed withdrawal: Amount left the balance; the recipient
// got Amount - ServiceFee.
type Withdrawal struct {
	// ExternalID identifies the row for good, e.g. "<batch>/<reference>".
	ExternalID string
	Currency   string
	Address    string
	Reference  string
	Amount     decimal.Decimal
	ServiceFee decimal.Decimal
	// AmountUSD and ServiceFeeUSD are informational; invalid when unknown.
	AmountUSD, ServiceFeeUSD decimal.NullDecimal
	// Identifier is Nord PAY's request identifier.
	Identifier string
	At         time.Time
}

// WithdrawalEntry is the posting rule for a paid withdrawal row: Cr assets (amount), Dr
// payouts (amount - fee, what the payee received), Dr withdraw fees (fee), each with its USD
// value when both USD values are known and none when either is not. A fee of zero gets no
// posting unless its USD value is not zero, so that the USD values still balance.
func (c Chart) WithdrawalEntry(w Withdrawal) Entry {
	cur := w.Currency
	e := Entry{
		Source:      SourceWithdrawal,
		ExternalID:  w.ExternalID,
		OccurredAt:  w.At.UTC(),
		Description: fmt.Sprintf("payout %s to %s", oneLine(w.Reference), w.Address),
		Label:       w.Reference,
		Address:     w.Address,
		SourceRef:   w.Identifier,
	}
	sub := func(a, b decimal.NullDecimal) decimal.NullDecimal {
		if !a.Valid || !b.Valid {
			return decimal.NullDecimal{}
		}
		return decimal.NullDecimal{Decimal: a.Decimal.Sub(b.Decimal), Valid: true}
	}
	neg := func(a decimal.NullDecimal) decimal.NullDecimal {
		return decimal.NullDecimal{Decimal: a.Decimal.Neg(), Valid: a.Valid}
	}
	e.Postings = append(e.Postings,
		Posting{Account: name(c.Payouts, cur), Type: Expense, Currency: cur, Amount: w.Amount.Sub(w.ServiceFee), AmountUSD: sub(w.AmountUSD, w.ServiceFeeUSD)})
	usdKnown := w.AmountUSD.Valid && w.ServiceFeeUSD.Valid
	if !w.ServiceFee.IsZero() || (usdKnown && !w.ServiceFeeUSD.Decimal.IsZero()) {
		e.Postings = append(e.Postings,
			Posting{Account: name(c.WithdrawFees, cur), Type: Expense, Currency: cur, Amount: w.ServiceFee, AmountUSD: w.ServiceFeeUSD})
	}
	e.Postings = append(e.Postings,
		Posting{Account: name(c.Assets, cur), Type: Asset, Currency: cur, Amount: w.Amount.Neg(), AmountUSD: neg(w.AmountUSD)})
	if !usdKnown {
		for i := range e.Postings {
			e.Postings[i].AmountUSD = decimal.NullDecimal{}
		}
	}
	return e
}
