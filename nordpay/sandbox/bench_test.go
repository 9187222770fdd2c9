package sandbox

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discardResponse is an http.ResponseWriter that throws the body away, so a benchmark
// measures the sandbox and not the network.
type discardResponse struct {
	h http.Header
	n int64
}

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) WriteHeader(int)             {}
func (d *discardResponse) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

func benchServer(b *testing.B, n int, spellings bool) *Server {
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := New(Options{
		APIKey: "k", Seed: 7, Now: func() time.Time { return end },
		Invoices:  Generator{Start: end.Add(-24 * time.Hour), End: end, Count: n, UnpaidRate: 0.05, LateRate: 0.02, LateDelay: time.Hour},
		Spellings: spellings,
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkServeWindow encodes a window of 200,000 generated invoice transactions and
// reports transactions per second: "plain" and "spellings" straight into a ResponseWriter
// (the sandbox alone), "http" through a loopback HTTP server into io.Discard.
func BenchmarkServeWindow(b *testing.B) {
	const n = 200_000
	for _, spell := range []bool{false, true} {
		name := "plain"
		if spell {
			name = "spellings"
		}
		b.Run(name, func(b *testing.B) {
			s := benchServer(b, n, spell)
			req := httptest.NewRequest("GET", "/invoice/transactions", nil)
			req.Header.Set("X-API-KEY", "k")
			b.ReportAllocs()
			b.ResetTimer()
			var bytes int64
			for range b.N {
				w := &discardResponse{h: http.Header{}}
				s.ServeHTTP(w, req)
				bytes += w.n
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
			b.ReportMetric(float64(bytes)/float64(b.N)/n, "B/tx")
		})
	}
	b.Run("http", func(b *testing.B) {
		srv := httptest.NewServer(benchServer(b, n, true))
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL+"/invoice/transactions", nil)
		req.Header.Set("X-API-KEY", "k")
		b.ResetTimer()
		for range b.N {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
	})
}
