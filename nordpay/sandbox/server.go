package sandbox

import (
	"fmt"
	"iter"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// Server is a fake Nord PAY API: serve it with net/http (httptest.NewServer(s), or an
// http.Server), drive its clock through Options.Now, and inspect what it did through its
// methods. It is safe for concurrent use.
type Server struct {
	opts  Options
	now   func() time.Time
	seed  uint64
	gcur  []*genCur // the currencies at New, in Options.Currencies order
	inv   *stream
	wal   *stream
	gwall []*wallet // generated wallets

	mu          sync.Mutex
	currencies  []nordpay.Currency // live: SetCurrency changes them
	initial     map[string]decimal.Decimal
	createdWall []*wallet
	wallByID    map[uint64]*wallet
	invoices    map[string]*invoiceRec // API-created invoices by id and by uuid
	invOrder    []*invoiceRec
	extras      [2][]*extra // added transactions: [0] invoice, [1] wallet; sorted by created_at
	nextTxID    [2]uint64
	nextWallID  uint64
	nextInvID   uint64
	createdSeq  uint64
	quotes      map[string]*quote
	quoteSeq    uint64
	withdrawSeq int64
	withdrawn   map[string]decimal.Decimal
	payments    []Payment
	cache       [2]sumCache

	faults faultState
}

// Payment is one row the sandbox actually paid: the ground truth that payout tests compare
// the payout state machine against, since the API itself never reports a withdrawal's fate.
type Payment struct {
	// WithdrawalID is the id the confirm answered (or would have answered, had the answer not
	// been lost).
	WithdrawalID int64
	// Identifier is the quote's identifier.
	Identifier string
	// Multiple is true for a row of a multiple withdrawal.
	Multiple bool
	// Currency is the quote's currency.
	Currency string
	// Address is the recipient as the request sent it.
	Address string
	// Amount is what the balance fell by for this row; the recipient gets Amount - ServiceFee.
	Amount decimal.Decimal
	// ServiceFee is the row's fee as quoted.
	ServiceFee decimal.Decimal
	// Row is the index of the row in its request (0 for a single withdrawal).
	Row int
	// ConfirmedAt is the sandbox clock at the confirm.
	ConfirmedAt time.Time
}

// extra is a transaction added through AddTransaction, AddRawTransaction or PayInvoice.
type extra struct {
	createdUS, visibleUS int64
	json                 []byte
	tx                   *nordpay.Transaction // nil for a raw record
	sourceID             string
	currency             string
	net                  decimal.Decimal
	paid                 bool
}

// sumCache is the running sum of paid nets of the first p transactions of a stream, all of
// which are visible to every clock at or after the one that computed it.
type sumCache struct {
	valid bool
	p     int
	sums  []u128
}

// New builds a sandbox from opts, applying the documented defaults; it reports invalid
// options with an error wrapping ErrInvalidOptions.
func New(opts Options) (*Server, error) {
	o := opts
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Currencies) == 0 {
		o.Currencies = DefaultCurrencies()
	} else {
		o.Currencies = cloneCurrencies(o.Currencies)
	}
	if o.WalletCount == 0 {
		o.WalletCount = 12
	}
	if o.QuoteTTL == 0 {
		o.QuoteTTL = 5 * time.Minute
	}
	if o.Faults.RetryAfter == 0 {
		o.Faults.RetryAfter = time.Second
	}
	if o.Faults.SlowDelay == 0 {
		o.Faults.SlowDelay = 5 * time.Second
	}
	if err := validateOptions(&o); err != nil {
		return nil, err
	}
	s := &Server{
		opts:       o,
		now:        o.Now,
		seed:       uint64(o.Seed),
		currencies: cloneCurrencies(o.Currencies),
		initial:    map[string]decimal.Decimal{},
		wallByID:   map[uint64]*wallet{},
		invoices:   map[string]*invoiceRec{},
		quotes:     map[string]*quote{},
		withdrawn:  map[string]decimal.Decimal{},
	}
	for k, v := range o.InitialBalances {
		s.initial[k] = v
	}
	fees := make(map[string]Fee, len(o.WithdrawFees))
	for k, v := range o.WithdrawFees {
		fees[k] = v
	}
	s.opts.WithdrawFees = fees
	s.opts.InitialBalances = nil // s.initial is the copy in use
	var deposit []*genCur
	for i, c := range o.Currencies {
		g := newGenCur(i, c, s.seed)
		s.gcur = append(s.gcur, g)
		if c.DepositEnabled() {
			deposit = append(deposit, g)
		}
	}

	// Generated wallets, spread over the deposit-enabled currencies, created before the first
	// wallet transaction.
	base := o.Wallets.Start
	if o.Wallets.Count == 0 || base.IsZero() {
		base = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	wallIDs := newBijection(s.seed, saltWalletObject, o.WalletCount, 500)
	for w := range o.WalletCount {
		g := deposit[w%len(deposit)]
		label := walletLabels[w%len(walletLabels)]
		if w >= len(walletLabels) {
			label += " " + strconv.Itoa(w/len(walletLabels)+1)
		}
		h := hash3(s.seed, saltWalletObject, uint64(w))
		created := base.Add(-time.Duration(o.WalletCount-w)*24*time.Hour - time.Duration(h%86400e6)*time.Microsecond)
		wl := &wallet{
			id:        wallIDs.id(w),
			label:     label,
			address:   makeAddress(g.kind, h),
			cur:       g,
			curName:   g.name,
			createdUS: created.UnixMicro(),
			updatedUS: created.UnixMicro(),
		}
		if h>>60 != 0 {
			wl.postback = shopPostback
		}
		wl.encode()
		s.gwall = append(s.gwall, wl)
		s.wallByID[wl.id] = wl
	}
	s.nextWallID = wallIDs.end()

	s.inv = s.newStream(nordpay.SourceInvoice, saltInvoiceStream, o.Invoices, 100)
	s.inv.curs = deposit
	s.inv.objIDs = newBijection(s.seed, saltInvoiceObject, o.Invoices.Count, 10000)
	s.nextInvID = s.inv.objIDs.end()
	s.wal = s.newStream(nordpay.SourceWallet, saltWalletStream, o.Wallets, 50)
	s.wal.curs = deposit
	s.wal.wallets = s.gwall
	if len(s.gwall) == 0 && o.Wallets.Count > 0 {
		return nil, optionsError("Wallets.Count > 0 needs WalletCount > 0")
	}
	s.nextTxID = [2]uint64{s.inv.ids.end(), s.wal.ids.end()}
	s.faults.init(s.seed)
	return s, nil
}

func (s *Server) newStream(source string, salt uint64, g Generator, feeBP uint64) *stream {
	st := &stream{
		source:    source,
		salt:      salt,
		seed:      s.seed,
		gen:       g,
		n:         g.Count,
		unpaid:    g.UnpaidRate,
		late:      g.LateRate,
		lateUS:    uint64(g.LateDelay / time.Microsecond),
		feeBP:     feeBP,
		ids:       newBijection(s.seed, salt, g.Count, 1_000_000),
		spellings: s.opts.Spellings,
	}
	if g.Count > 0 {
		st.startUS = g.Start.UnixMicro()
		st.spanUS = uint64(g.End.UnixMicro() - st.startUS)
	}
	if st.late == 0 {
		st.lateUS = 0
	}
	return st
}

func cloneCurrencies(in []nordpay.Currency) []nordpay.Currency {
	out := make([]nordpay.Currency, len(in))
	for i, c := range in {
		if c.IsDepositEnabled != nil {
			v := *c.IsDepositEnabled
			c.IsDepositEnabled = &v
		}
		if c.IsWithdrawEnabled != nil {
			v := *c.IsWithdrawEnabled
			c.IsWithdrawEnabled = &v
		}
		out[i] = c
	}
	return out
}

func (s *Server) streamOf(sourceType string) (*stream, int) {
	if sourceType == nordpay.SourceWallet {
		return s.wal, 1
	}
	return s.inv, 0
}

// servable is the one visibility rule: a transaction is served once it is created and
// visible by the sandbox clock.
func servable(createdUS, visibleUS, nowUS int64) bool {
	return createdUS <= nowUS && visibleUS <= nowUS
}

// ---- balances ----

// genSumsLocked returns the paid nets of the generated transactions of st served at nowUS,
// per generation currency, using and advancing the running cache.
func (s *Server) genSumsLocked(st *stream, c *sumCache, nowUS int64) []u128 {
	if !c.valid {
		c.sums = make([]u128, len(s.gcur))
		c.valid = true
		c.p = 0
	}
	q := st.firstAfter(nowUS) // created at or before now
	p := q
	if st.lateUS > 0 {
		p = min(q, st.firstAfter(nowUS-int64(st.lateUS)))
	}
	if p < c.p { // the clock moved back: recompute
		clear(c.sums)
		c.p = 0
	}
	var d txData
	for i := c.p; i < p; i++ {
		st.derive(i, &d)
		if d.paid {
			c.sums[d.cur.idx] = c.sums[d.cur.idx].add(d.net())
		}
	}
	c.p = p
	out := slices.Clone(c.sums)
	for i := p; i < q; i++ {
		st.derive(i, &d)
		if d.paid && servable(d.createdUS, d.visibleUS, nowUS) {
			out[d.cur.idx] = out[d.cur.idx].add(d.net())
		}
	}
	return out
}

func (d *txData) net() u128 { return d.amount.sub(d.cur.nf).sub(d.sf) }

// balancesLocked is GET /balance/ at nowUS: initial balances, plus the nets of every paid
// transaction served up to now, minus confirmed withdrawals.
func (s *Server) balancesLocked(nowUS int64) map[string]decimal.Decimal {
	out := make(map[string]decimal.Decimal, len(s.currencies))
	for _, c := range s.currencies {
		out[c.Name] = s.initial[c.Name]
	}
	for k, st := range []*stream{s.inv, s.wal} {
		sums := s.genSumsLocked(st, &s.cache[k], nowUS)
		for i, v := range sums {
			if !v.isZero() {
				name := s.gcur[i].name
				out[name] = out[name].Add(decimalOf(v, attoDigits))
			}
		}
		for _, e := range s.extras[k] {
			if e.paid && e.tx != nil && servable(e.createdUS, e.visibleUS, nowUS) {
				out[e.currency] = out[e.currency].Add(e.net)
			}
		}
	}
	for name, v := range s.withdrawn {
		out[name] = out[name].Sub(v)
	}
	return out
}

// Balances returns what GET /balance/ would answer now (every currency, zero ones included),
// so tests can check a ledger against it without HTTP.
func (s *Server) Balances() map[string]decimal.Decimal {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.balancesLocked(now.UnixMicro())
}

// Payments returns every row the sandbox paid, in confirmation order: the truth that at most
// once payout execution is checked against.
func (s *Server) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.payments)
}

// SetCurrency changes a currency in place (withdraw flags, minimums, rate), so a test can
// make the API refuse what it accepted a moment ago. Generated transactions keep the
// currency as it was at New.
func (s *Server) SetCurrency(name string, update func(*nordpay.Currency)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.currencies {
		if s.currencies[i].Name != name {
			continue
		}
		c := cloneCurrencies(s.currencies[i : i+1])[0]
		update(&c)
		if c.Name != name {
			return fmt.Errorf("sandbox: SetCurrency cannot rename %s", name)
		}
		if c.Decimals < 0 || c.Decimals > attoDigits {
			return fmt.Errorf("sandbox: SetCurrency %s: decimals %d outside 0..%d", name, c.Decimals, attoDigits)
		}
		if !c.Rate.Valid || !c.Rate.Decimal.IsPositive() {
			return fmt.Errorf("sandbox: SetCurrency %s: rate must be set and positive", name)
		}
		if c.MinWithdraw.IsNegative() || c.NetworkFee.IsNegative() || c.MinDeposit.IsNegative() {
			return fmt.Errorf("sandbox: SetCurrency %s: negative amount", name)
		}
		s.currencies[i] = c
		return nil
	}
	return fmt.Errorf("sandbox: unknown currency %s", name)
}

func (s *Server) currencyLocked(name string) (nordpay.Currency, bool) {
	for _, c := range s.currencies {
		if c.Name == name {
			return c, true
		}
	}
	return nordpay.Currency{}, false
}

// ---- added transactions ----

func (s *Server) addExtraLocked(k int, e *extra) {
	list := s.extras[k]
	at := sort.Search(len(list), func(j int) bool { return list[j].createdUS > e.createdUS })
	s.extras[k] = slices.Insert(list, at, e)
}

// AddTransaction adds a transaction to the stream named by tx.SourceType ("wallet", else the
// invoice stream), served in its window once visibleAt has passed (at once for a zero
// visibleAt), and counted in the balance when paid: for tests of late or hand-made facts.
func (s *Server) AddTransaction(tx nordpay.Transaction, visibleAt time.Time) {
	b, err := nordpay.Marshal(tx)
	if err != nil {
		panic(fmt.Sprintf("sandbox: AddTransaction: %v", err))
	}
	_, k := s.streamOf(tx.SourceType)
	created := tx.CreatedAt.UnixMicro()
	vis := created
	if !visibleAt.IsZero() {
		vis = ceilMicro(visibleAt)
	}
	t := tx
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addExtraLocked(k, &extra{
		createdUS: created, visibleUS: vis, json: b, tx: &t,
		sourceID: string(tx.Source.ID), currency: tx.Currency.Name,
		net: tx.Net(), paid: tx.IsPaid,
	})
}

// AddRawTransaction adds a malformed record, served verbatim as one array element of the
// stream named by sourceType, so the client's quarantine path can be tested. It never moves
// a balance.
func (s *Server) AddRawTransaction(sourceType string, createdAt, visibleAt time.Time, raw string) {
	_, k := s.streamOf(sourceType)
	created := createdAt.UnixMicro()
	vis := created
	if !visibleAt.IsZero() {
		vis = ceilMicro(visibleAt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addExtraLocked(k, &extra{createdUS: created, visibleUS: vis, json: []byte(raw)})
}

// Transactions returns what a window query of the stream would serve now, in the same order,
// as Go values (malformed raw records are left out): the truth for sync tests. Zero start or
// end means the bound is absent; end follows Options.EndDateInclusive.
func (s *Server) Transactions(sourceType string, start, end time.Time) iter.Seq[nordpay.Transaction] {
	st, k := s.streamOf(sourceType)
	now := s.now()
	s.mu.Lock()
	extras := slices.Clone(s.extras[k])
	s.mu.Unlock()
	q := s.newWindow(st, extras, now.UnixMicro(), start, end)
	return func(yield func(nordpay.Transaction) bool) {
		var d txData
		q.each(&d, func(d *txData, e *extra) bool {
			if e != nil {
				if e.tx == nil {
					return true
				}
				return yield(*e.tx)
			}
			return yield(st.view(d, q.nowUS))
		})
	}
}

func ceilMicro(t time.Time) int64 {
	us := t.UnixMicro()
	if time.UnixMicro(us).Before(t) {
		us++
	}
	return us
}
