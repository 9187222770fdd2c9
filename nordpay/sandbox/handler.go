package sandbox

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// call is one request being answered.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	now   time.Time
	nowUS int64
	param string  // the path parameter ({identifier} or {id})
	cut   float64 // mid-stream drop: where to cut, as a fraction; < 0 for none
}

// route is the outcome of matching a request against the API's paths.
type route struct {
	key      string // "GET /invoice/{identifier}": what Requests and InjectFault name
	path     string // "/invoice/{identifier}"
	method   string
	concrete string // the request's path without its trailing slash
	status   int    // 404 or 405 when no endpoint answers
	allow    string // methods of a 405
	public   bool   // no API key needed
	stream   bool   // a transaction stream (random mid-stream drops apply)
	array    bool   // answered through the streaming array writer
	confirm  bool   // a withdrawal confirm (random lost answers apply)
	param    string
	h        func(*Server, *call)
}

type endpoint struct {
	method, pattern                string
	public, stream, array, confirm bool
	h                              func(*Server, *call)
}

// endpoints are matched in order, like FastAPI's routes: fixed paths before parameters.
var endpoints = []endpoint{
	{method: "GET", pattern: "/currencies", public: true, h: (*Server).handleCurrencies},
	{method: "GET", pattern: "/currencies/rates", public: true, h: (*Server).handleRates},
	{method: "GET", pattern: "/invoice", array: true, h: (*Server).handleInvoices},
	{method: "POST", pattern: "/invoice/create", h: (*Server).handleCreateInvoice},
	{method: "GET", pattern: "/invoice/transactions", stream: true, array: true, h: (*Server).handleTransactions},
	{method: "GET", pattern: "/invoice/{identifier}", h: (*Server).handleInvoice},
	{method: "GET", pattern: "/invoice/{identifier}/transactions", stream: true, array: true, h: (*Server).handleInvoiceTransactions},
	{method: "GET", pattern: "/wallet", array: true, h: (*Server).handleWallets},
	{method: "POST", pattern: "/wallet/create", h: (*Server).handleCreateWallet},
	{method: "GET", pattern: "/wallet/transactions", stream: true, array: true, h: (*Server).handleTransactions},
	{method: "GET", pattern: "/wallet/{id}", h: (*Server).handleWallet},
	{method: "GET", pattern: "/wallet/{id}/qrcode", h: (*Server).handleQRCode},
	{method: "GET", pattern: "/wallet/{id}/transactions", stream: true, array: true, h: (*Server).handleWalletTransactions},
	{method: "GET", pattern: "/balance", h: (*Server).handleBalance},
	{method: "POST", pattern: "/balance/withdraw/request", h: (*Server).handleWithdrawRequest},
	{method: "POST", pattern: "/balance/withdraw/confirm", confirm: true, h: (*Server).handleWithdrawConfirm},
	{method: "POST", pattern: "/balance/withdraw/multiple/request", h: (*Server).handleWithdrawRequest},
	{method: "POST", pattern: "/balance/withdraw/multiple/confirm", confirm: true, h: (*Server).handleWithdrawConfirm},
}

func matchPattern(pattern, path string) (param string, ok bool) {
	for {
		pp, prest, pmore := strings.Cut(strings.TrimPrefix(pattern, "/"), "/")
		sp, srest, smore := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		if strings.HasPrefix(pp, "{") {
			if sp == "" {
				return "", false
			}
			param = sp
		} else if pp != sp {
			return "", false
		}
		if pmore != smore {
			return "", false
		}
		if !pmore {
			return param, true
		}
		pattern, path = "/"+prest, "/"+srest
	}
}

func match(method, path string) route {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	var allow []string
	for _, e := range endpoints {
		param, ok := matchPattern(e.pattern, path)
		if !ok {
			continue
		}
		if e.method != method {
			allow = append(allow, e.method)
			continue
		}
		return route{
			key: method + " " + e.pattern, path: e.pattern, method: method, concrete: path, public: e.public,
			stream: e.stream, array: e.array, confirm: e.confirm, param: param, h: e.h,
		}
	}
	rt := route{key: method + " " + path, path: path, method: method, concrete: path, status: http.StatusNotFound}
	if len(allow) > 0 {
		rt.status = http.StatusMethodNotAllowed
		rt.allow = strings.Join(slices.Compact(allow), ", ")
	}
	return rt
}

// ServeHTTP answers one API request: count it, apply any fault (scripted, then random),
// add latency, check the key, and run the endpoint. Faults that drop the connection panic
// with http.ErrAbortHandler, as net/http expects, so serve the sandbox through an
// http.Server (httptest.NewServer included).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := match(r.Method, r.URL.Path)
	kind, cut := s.admit(&rt)
	sleep(r.Context(), s.opts.Faults.Latency)
	switch kind {
	case Fault429, Fault500, Fault502:
		s.writeInjected(w, kind)
		return
	case FaultDrop:
		panic(http.ErrAbortHandler)
	case FaultSlow:
		sleep(r.Context(), s.opts.Faults.SlowDelay)
	case FaultLostAnswer:
		s.serve(&rt, &call{w: &discardWriter{h: http.Header{}}, r: r, cut: -1})
		panic(http.ErrAbortHandler)
	case FaultMidStream:
		if rt.array {
			s.serve(&rt, &call{w: w, r: r, cut: cut})
			return
		}
		bw := &bufferWriter{h: w.Header()}
		s.serve(&rt, &call{w: bw, r: r, cut: -1})
		w.WriteHeader(bw.status)
		_, _ = w.Write(bw.body[:int(float64(len(bw.body))*cut)])
		abort(w)
	}
	s.serve(&rt, &call{w: w, r: r, cut: -1})
}

func (s *Server) serve(rt *route, c *call) {
	switch rt.status {
	case http.StatusNotFound:
		writeDetail(c.w, http.StatusNotFound, "Not Found")
		return
	case http.StatusMethodNotAllowed:
		c.w.Header().Set("Allow", rt.allow)
		writeDetail(c.w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if !rt.public && !s.authorized(c) {
		return
	}
	c.now = s.now()
	c.nowUS = c.now.UnixMicro()
	c.param = rt.param
	rt.h(s, c)
}

// authorized checks X-API-KEY in constant time; the key is never written anywhere.
func (s *Server) authorized(c *call) bool {
	got := c.r.Header.Get("X-API-KEY")
	switch {
	case got == "":
		writeDetail(c.w, http.StatusUnauthorized, "Not authenticated")
		return false
	case subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.APIKey)) != 1:
		writeDetail(c.w, http.StatusUnauthorized, "Invalid API key")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeDetail answers FastAPI's {"detail": "..."}.
func writeDetail(w http.ResponseWriter, status int, msg string) {
	b := append([]byte(`{"detail":`), appendJSONString(nil, msg)...)
	writeJSON(w, status, append(b, '}'))
}

// ---- the streaming array writer ----

const flushAt = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, flushAt+8<<10); return &b }}

// arrayWriter streams a JSON array through a reused buffer, so memory stays flat whatever
// the number of elements; it also carries out mid-stream drops.
type arrayWriter struct {
	w         http.ResponseWriter
	bp        *[]byte
	buf       []byte
	n         int
	elemStart int
	cutAt     int // element after which the stream is cut; -1 for none
	failed    bool
}

func newArrayWriter(c *call, candidates int) *arrayWriter {
	a := &arrayWriter{w: c.w, cutAt: -1}
	a.bp = bufPool.Get().(*[]byte)
	a.buf = (*a.bp)[:0]
	if c.cut >= 0 {
		a.cutAt = int(c.cut * float64(candidates))
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(http.StatusOK)
	a.buf = append(a.buf, '[')
	return a
}

// sep starts an element.
func (a *arrayWriter) sep() {
	if a.n > 0 {
		a.buf = append(a.buf, ',')
	}
	a.elemStart = len(a.buf)
}

// done ends an element; false means the client is gone and the stream should stop.
func (a *arrayWriter) done() bool {
	if a.n == a.cutAt {
		a.buf = a.buf[:a.elemStart+(len(a.buf)-a.elemStart)/2]
		a.flush()
		a.release()
		abort(a.w)
	}
	a.n++
	if len(a.buf) >= flushAt {
		a.flush()
	}
	return !a.failed
}

func (a *arrayWriter) raw(b []byte) bool {
	a.sep()
	a.buf = append(a.buf, b...)
	return a.done()
}

func (a *arrayWriter) flush() {
	if len(a.buf) == 0 || a.failed {
		a.buf = a.buf[:0]
		return
	}
	if _, err := a.w.Write(a.buf); err != nil {
		a.failed = true
	}
	a.buf = a.buf[:0]
}

func (a *arrayWriter) release() {
	*a.bp = a.buf[:0]
	bufPool.Put(a.bp)
	a.bp = nil
}

// end closes the array, or cuts it there when a cut was due and not reached.
func (a *arrayWriter) end() {
	if a.cutAt >= 0 {
		a.flush()
		a.release()
		abort(a.w)
	}
	a.buf = append(a.buf, ']')
	a.flush()
	a.release()
}

// ---- currencies and balance ----

func (s *Server) handleCurrencies(c *call) {
	s.mu.Lock()
	b := []byte{'['}
	for i, cur := range s.currencies {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFullCurrency(b, cur)
	}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, append(b, ']'))
}

func (s *Server) handleRates(c *call) {
	s.mu.Lock()
	b := []byte{'['}
	for i, cur := range s.currencies {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, cur.Name)
		b = append(b, `,"rate":`...)
		b = appendDecimal(b, cur.Rate.Decimal)
		b = append(b, '}')
	}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, append(b, ']'))
}

func (s *Server) handleBalance(c *call) {
	s.mu.Lock()
	bal := s.balancesLocked(c.nowUS)
	names := make([]string, 0, len(bal))
	for _, cur := range s.currencies {
		names = append(names, cur.Name)
	}
	var others []string
	for name := range bal {
		if _, ok := s.currencyLocked(name); !ok {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	names = append(names, others...)
	b := []byte{'['}
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		v := bal[name]
		b = append(b, `{"currency":`...)
		b = appendJSONString(b, name)
		b = append(b, `,"balance":`...)
		b = appendDecimal(b, v)
		b = append(b, `,"balance_usd":`...)
		usd := decimal.Zero
		if cur, ok := s.currencyLocked(name); ok && cur.Rate.Valid {
			usd = v.Mul(cur.Rate.Decimal).Round(2)
		}
		b = appendDecimal(b, usd)
		b = append(b, '}')
	}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, append(b, ']'))
}

// ---- transaction windows ----

// windowParams parses start_date and end_date; on a bad value it answers 422 itself.
func (s *Server) windowParams(c *call) (start, end time.Time, ok bool) {
	q := c.r.URL.Query()
	var errs []vdetail
	parse := func(name string) time.Time {
		vs, present := q[name]
		if !present {
			return time.Time{}
		}
		v := vs[len(vs)-1]
		t, err := nordpay.ParseTime(v)
		if err != nil {
			reason := "invalid datetime format"
			if len(strings.TrimSpace(v)) < 10 {
				reason = "input is too short"
			}
			errs = append(errs, vdetail{
				Type: "datetime_from_date_parsing", Loc: []any{"query", name},
				Msg:   "Input should be a valid datetime or date, " + reason,
				Input: jsonValue(v), Ctx: ctxJSON("error", reason),
			})
		}
		return t
	}
	start, end = parse("start_date"), parse("end_date")
	if len(errs) > 0 {
		writeValidation(c.w, errs)
		return start, end, false
	}
	return start, end, true
}

func (s *Server) streamWindow(c *call, st *stream, w *window) {
	a := newArrayWriter(c, w.candidates())
	var d txData
	w.each(&d, func(d *txData, e *extra) bool {
		if e != nil {
			return a.raw(e.json)
		}
		a.sep()
		a.buf = st.appendTx(a.buf, d, w.nowUS)
		return a.done()
	})
	a.end()
}

func (s *Server) windowFor(c *call, sourceType string) (*stream, *window, bool) {
	start, end, ok := s.windowParams(c)
	if !ok {
		return nil, nil, false
	}
	st, k := s.streamOf(sourceType)
	s.mu.Lock()
	extras := slices.Clone(s.extras[k])
	s.mu.Unlock()
	return st, s.newWindow(st, extras, c.nowUS, start, end), true
}

func (s *Server) handleTransactions(c *call) {
	source := nordpay.SourceInvoice
	if strings.HasPrefix(c.r.URL.Path, "/wallet") {
		source = nordpay.SourceWallet
	}
	st, w, ok := s.windowFor(c, source)
	if !ok {
		return
	}
	s.streamWindow(c, st, w)
}

func (s *Server) handleInvoiceTransactions(c *call) {
	idx, rec, found := s.findInvoice(c.param, c.nowUS)
	if !found {
		writeDetail(c.w, http.StatusNotFound, "Invoice not found")
		return
	}
	st, w, ok := s.windowFor(c, nordpay.SourceInvoice)
	if !ok {
		return
	}
	if rec != nil {
		w.only = true
		w.sourceID = strconv.FormatUint(rec.id, 10)
	} else {
		w.lo, w.hi = max(w.lo, idx), min(w.hi, idx+1)
		if w.lo > w.hi {
			w.lo = w.hi
		}
		var d txData
		st.derive(idx, &d)
		w.sourceID = strconv.FormatUint(d.invID, 10)
	}
	s.streamWindow(c, st, w)
}

func (s *Server) handleWalletTransactions(c *call) {
	wl, ok := s.walletParam(c)
	if !ok {
		return
	}
	st, w, ok := s.windowFor(c, nordpay.SourceWallet)
	if !ok {
		return
	}
	w.sourceID = strconv.FormatUint(wl.id, 10)
	if slices.Contains(s.gwall, wl) { // generated wallets are fixed after New
		w.wallet = wl
	} else {
		w.only = true
	}
	s.streamWindow(c, st, w)
}

// ---- wallets ----

// walletParam resolves {id}: 422 for a non-integer (FastAPI's int path parameter), 404 for an
// unknown wallet.
func (s *Server) walletParam(c *call) (*wallet, bool) {
	id, err := strconv.ParseUint(c.param, 10, 64)
	if err != nil {
		writeValidation(c.w, []vdetail{{
			Type: "int_parsing", Loc: []any{"path", "id"},
			Msg:   "Input should be a valid integer, unable to parse string as an integer",
			Input: jsonValue(c.param),
		}})
		return nil, false
	}
	s.mu.Lock()
	wl := s.wallByID[id]
	s.mu.Unlock()
	if wl == nil || wl.createdUS > c.nowUS {
		writeDetail(c.w, http.StatusNotFound, "Wallet not found")
		return nil, false
	}
	return wl, true
}

func (s *Server) handleWallets(c *call) {
	s.mu.Lock()
	all := append(slices.Clone(s.gwall), s.createdWall...)
	s.mu.Unlock()
	a := newArrayWriter(c, len(all))
	for _, wl := range all {
		if wl.createdUS > c.nowUS {
			continue
		}
		if !a.raw(wl.json) {
			break
		}
	}
	a.end()
}

func (s *Server) handleWallet(c *call) {
	wl, ok := s.walletParam(c)
	if !ok {
		return
	}
	writeJSON(c.w, http.StatusOK, wl.json)
}

func (s *Server) handleQRCode(c *call) {
	wl, ok := s.walletParam(c)
	if !ok {
		return
	}
	b := append([]byte(`{"qrcode":"`), qrPNGBase64(wl.address)...)
	writeJSON(c.w, http.StatusOK, append(b, `"}`...))
}

// ---- invoices ----

// findInvoice resolves an invoice identifier (id or uuid): an API-created invoice (rec), or
// a generated one (its index), provided it exists by nowUS.
func (s *Server) findInvoice(ident string, nowUS int64) (idx int, rec *invoiceRec, ok bool) {
	s.mu.Lock()
	rec = s.invoices[strings.ToLower(ident)]
	s.mu.Unlock()
	if rec != nil {
		return 0, rec, true
	}
	st := s.inv
	if id, err := strconv.ParseUint(ident, 10, 64); err == nil {
		idx, ok = st.objIDs.index(id)
	} else {
		idx, ok = invoiceIndexOfUUID(s.seed, st.n, ident)
	}
	if !ok {
		return 0, nil, false
	}
	var d txData
	st.derive(idx, &d)
	if d.invCreatedUS > nowUS {
		return 0, nil, false
	}
	return idx, nil, true
}

// invoiceLead is the longest time a generated invoice is created before its transaction.
const invoiceLead = 29 * time.Minute

func (s *Server) handleInvoices(c *call) {
	st := s.inv
	s.mu.Lock()
	created := slices.Clone(s.invOrder)
	s.mu.Unlock()
	hi := st.firstAfter(c.nowUS + int64(invoiceLead/time.Microsecond))
	a := newArrayWriter(c, hi+len(created))
	var d txData
	for i := 0; i < hi; i++ {
		st.derive(i, &d)
		if d.invCreatedUS > c.nowUS {
			continue
		}
		a.sep()
		a.buf = append(a.buf, '{')
		paidVisible := d.paid && servable(d.createdUS, d.visibleUS, c.nowUS)
		a.buf = d.appendInvoiceFields(a.buf, paidVisible, c.nowUS, true)
		a.buf = append(a.buf, '}')
		if !a.done() {
			break
		}
	}
	for _, rec := range created {
		s.mu.Lock()
		b := rec.appendJSON(nil, c.nowUS)
		s.mu.Unlock()
		if !a.raw(b) {
			break
		}
	}
	a.end()
}

func (s *Server) handleInvoice(c *call) {
	idx, rec, ok := s.findInvoice(c.param, c.nowUS)
	if !ok {
		writeDetail(c.w, http.StatusNotFound, "Invoice not found")
		return
	}
	if rec != nil {
		s.mu.Lock()
		b := rec.appendJSON(nil, c.nowUS)
		s.mu.Unlock()
		writeJSON(c.w, http.StatusOK, b)
		return
	}
	var d txData
	s.inv.derive(idx, &d)
	paidVisible := d.paid && servable(d.createdUS, d.visibleUS, c.nowUS)
	b := d.appendInvoiceFields([]byte{'{'}, paidVisible, c.nowUS, true)
	writeJSON(c.w, http.StatusOK, append(b, '}'))
}
