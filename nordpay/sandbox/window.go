package sandbox

import (
	"math"
	"strconv"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// window is one transaction query: a created_at range of a stream, as of the sandbox clock,
// optionally narrowed to one wallet or one invoice.
type window struct {
	st       *stream
	extras   []*extra
	nowUS    int64
	lo, hi   int     // generated indexes to consider
	fromUS   int64   // extras: created_at >= fromUS
	toUS     int64   // extras: created_at <= toUS (inclusive bound after adjustment)
	wallet   *wallet // non-nil: only generated transactions of this wallet
	sourceID string  // non-empty: only added transactions of this source id
	only     bool    // true: no generated transaction at all (a source with none)
}

// newWindow resolves start and end (zero = absent) into index ranges: a binary search on i,
// since created_at is monotonic in i.
func (s *Server) newWindow(st *stream, extras []*extra, nowUS int64, start, end time.Time) *window {
	w := &window{st: st, extras: extras, nowUS: nowUS, fromUS: math.MinInt64, toUS: nowUS}
	w.hi = st.firstAfter(nowUS)
	if !start.IsZero() {
		w.fromUS = ceilMicro(start)
		w.lo = st.firstAtOrAfter(w.fromUS)
	}
	if !end.IsZero() {
		var last int64 // the last created_at served
		if s.opts.EndDateInclusive {
			last = end.UnixMicro()
		} else {
			last = ceilMicro(end) - 1
		}
		w.hi = min(w.hi, st.firstAfter(last))
		w.toUS = min(w.toUS, last)
	}
	if w.lo > w.hi {
		w.lo = w.hi
	}
	return w
}

// candidates is an upper bound of the number of elements the window yields.
func (w *window) candidates() int {
	n := len(w.extras)
	if !w.only {
		n += w.hi - w.lo
	}
	return n
}

// each yields the window's transactions in created_at order, generated ones (e nil, d
// filled) merged with added ones (e set); added ones come after generated ones of the same
// instant. It stops when f returns false.
func (w *window) each(d *txData, f func(d *txData, e *extra) bool) {
	ex := w.extras
	next := 0
	emitExtras := func(beforeUS int64, all bool) bool {
		for next < len(ex) && (all || ex[next].createdUS < beforeUS) {
			e := ex[next]
			next++
			if e.createdUS < w.fromUS || e.createdUS > w.toUS || !servable(e.createdUS, e.visibleUS, w.nowUS) {
				continue
			}
			if w.sourceID != "" && e.sourceID != w.sourceID {
				continue
			}
			if !f(nil, e) {
				return false
			}
		}
		return true
	}
	if !w.only {
		for i := w.lo; i < w.hi; i++ {
			created := w.st.createdUS(i)
			if len(ex) > next && !emitExtras(created, false) {
				return
			}
			w.st.derive(i, d)
			if !servable(d.createdUS, d.visibleUS, w.nowUS) {
				continue
			}
			if w.wallet != nil && d.wallet != w.wallet {
				continue
			}
			if !f(d, nil) {
				return
			}
		}
	}
	emitExtras(0, true)
}

// view converts generated transaction d to the Go value a client decodes from its JSON.
func (st *stream) view(d *txData, nowUS int64) nordpay.Transaction {
	c := d.cur
	cd := c.decimals
	tx := nordpay.Transaction{
		ID:         nordpay.ID(strconv.FormatUint(d.id, 10)),
		SourceType: st.source,
		Currency: nordpay.CurrencyRef{Currency: nordpay.Currency{
			Name: c.cur.Name, Token: c.cur.Token, Network: c.cur.Network, Contract: c.cur.Contract,
			Decimals: c.cur.Decimals, Confirmations: c.cur.Confirmations,
			NetworkFee: c.cur.NetworkFee, MinDeposit: c.cur.MinDeposit,
		}},
		Amount:           decimalOf(d.amount, cd),
		AmountUSD:        decimalOf(d.amountUSD, 2),
		NetworkFee:       decimalOf(c.nf, cd),
		NetworkFeeUSD:    decimalOf(c.nfUSD, 2),
		ServiceFee:       decimalOf(d.sf, cd),
		ServiceFeeUSD:    decimalOf(d.sfUSD, 2),
		TxHash:           string(appendTxHash(nil, c.kind, &d.hash)),
		IsPaid:           d.paid,
		IsPostbackSended: d.postbackSent,
		CreatedAt:        nordpay.Time{Time: time.UnixMicro(d.createdUS).UTC()},
	}
	if d.wallet != nil {
		tx.Source = d.wallet.source()
		return tx
	}
	tx.Source = d.invoiceSource(d.paid, nowUS)
	return tx
}

func (w *wallet) source() nordpay.Source {
	return nordpay.Source{
		ID:          nordpay.ID(strconv.FormatUint(w.id, 10)),
		Currency:    nordpay.CurrencyName(w.curName),
		Address:     w.address,
		Label:       w.label,
		PostbackURL: w.postback,
		CreatedAt:   nordpay.Time{Time: time.UnixMicro(w.createdUS).UTC()},
		UpdatedAt:   nordpay.Time{Time: time.UnixMicro(w.updatedUS).UTC()},
	}
}

func (d *txData) invoiceSource(paidVisible bool, nowUS int64) nordpay.Source {
	c := d.cur
	src := nordpay.Source{
		ID:          nordpay.ID(strconv.FormatUint(d.invID, 10)),
		UUID:        uuidString(d.invUUIDHi, d.invUUID),
		Currency:    nordpay.CurrencyName(c.name),
		Address:     d.addr,
		Amount:      decimalOf(d.amount, c.decimals),
		AmountUSD:   decimalOf(d.amountUSD, 2),
		Label:       d.label(),
		PostbackURL: shopPostback,
		SuccessURL:  shopSuccess,
		FailURL:     shopFail,
		CreatedAt:   nordpay.Time{Time: time.UnixMicro(d.invCreatedUS).UTC()},
		ExpiresAt:   nordpay.Time{Time: time.UnixMicro(d.invExpiresUS).UTC()},
		Status:      d.invoiceStatus(paidVisible, nowUS),
	}
	if paidVisible {
		src.TxHash = string(appendTxHash(nil, c.kind, &d.hash))
		src.ReceivedAmount = src.Amount
		src.ReceivedAmountUSD = src.AmountUSD
	} else {
		src.ReceivedAmount = decimal.Zero
		src.ReceivedAmountUSD = decimal.Zero
	}
	return src
}
