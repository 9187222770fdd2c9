package sandbox

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// faultState holds the request counters, the scripted faults and the seeded random source.
type faultState struct {
	mu       sync.Mutex
	rng      *rand.Rand
	scripted map[string][]FaultKind
	requests map[string]int
}

func (f *faultState) init(seed uint64) {
	f.rng = rand.New(rand.NewPCG(seed, seed^0x6661756c7473))
	f.scripted = map[string][]FaultKind{}
	f.requests = map[string]int{}
}

// routeKey normalises "get /currencies/" and "GET /currencies" to "GET /currencies"; a route
// without a method is kept as a bare path, matching every method.
func routeKey(route string) string {
	route = strings.TrimSpace(route)
	method, path, ok := strings.Cut(route, " ")
	if !ok {
		method, path = "", route
	}
	path = strings.TrimSpace(path)
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	if method == "" {
		return path
	}
	return strings.ToUpper(method) + " " + path
}

// InjectFault scripts a one-shot fault for the next request matching route, so a test can
// put the exact failure it needs at the exact step. The route is "METHOD /path" with the path
// as documented ("POST /balance/withdraw/multiple/confirm",
// "GET /invoice/{identifier}/transactions") or a concrete one ("GET /wallet/1448"); the
// trailing slash does not matter, and a bare path matches every method. Several faults for a
// route queue up in order, and scripted faults come before random ones.
func (s *Server) InjectFault(route string, kind FaultKind) {
	k := routeKey(route)
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.scripted[k] = append(s.faults.scripted[k], kind)
}

// Requests reports how many requests reached a route (faulted ones included), so a test can
// assert that nothing, or exactly one confirm, reached the API. The route is written as for
// InjectFault; a bare path counts every method.
func (s *Server) Requests(route string) int {
	k := routeKey(route)
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if !strings.Contains(k, " ") {
		n := 0
		for key, v := range s.faults.requests {
			if _, p, _ := strings.Cut(key, " "); p == k {
				n += v
			}
		}
		return n
	}
	return s.faults.requests[k]
}

// admit counts a request and decides its fault: scripted first, then random. cut is where a
// mid-stream drop cuts (a fraction of the answer).
func (s *Server) admit(rt *route) (kind FaultKind, cut float64) {
	f := &s.faults
	o := s.opts.Faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[rt.key]++
	for _, k := range []string{rt.key, rt.path, rt.method + " " + rt.concrete, rt.concrete} {
		if q := f.scripted[k]; len(q) > 0 {
			kind = q[0]
			if len(q) == 1 {
				delete(f.scripted, k)
			} else {
				f.scripted[k] = q[1:]
			}
			break
		}
	}
	if kind == 0 && (o.Rate > 0 || o.DropRate > 0) {
		u := f.rng.Float64()
		switch {
		case u < o.DropRate:
			kind = FaultDrop
		case u < o.DropRate+o.Rate:
			kind = []FaultKind{Fault429, Fault500, Fault502}[f.rng.IntN(3)]
		}
	}
	if kind == 0 && rt.confirm && o.LostConfirmRate > 0 && f.rng.Float64() < o.LostConfirmRate {
		kind = FaultLostAnswer
	}
	if kind == 0 && rt.stream && o.MidStreamDropRate > 0 && f.rng.Float64() < o.MidStreamDropRate {
		kind = FaultMidStream
	}
	if kind == FaultMidStream {
		cut = f.rng.Float64()
	}
	return kind, cut
}

// sleep waits d, or until the client goes away.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// abort closes the connection without completing the answer: net/http treats the
// http.ErrAbortHandler panic as "drop this connection", and the client sees a network error.
func abort(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler)
}

// writeInjected answers an injected 429, 500 or 502 the way the real stack would: FastAPI's
// JSON for 429, its plain text for 500, a proxy's HTML page for 502.
func (s *Server) writeInjected(w http.ResponseWriter, kind FaultKind) {
	switch kind {
	case Fault429:
		secs := int64((s.opts.Faults.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		writeDetail(w, http.StatusTooManyRequests, "Too Many Requests")
	case Fault500:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Internal Server Error"))
	case Fault502:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"))
	}
}

// discardWriter swallows an answer whose connection is going to be dropped.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// bufferWriter holds a small answer so that only part of it can be sent.
type bufferWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (b *bufferWriter) Header() http.Header { return b.h }
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.body = append(b.body, p...)
	return len(p), nil
}
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
