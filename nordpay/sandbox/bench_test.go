package sandbox

import (
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

// BenchmarkServeWindow encodes a window of generated transactions straight into a
// ResponseWriter and reports transactions per second.
func BenchmarkServeWindow(b *testing.B) {
	for _, spell := range []bool{false, true} {
		name := "plain"
		if spell {
			name = "spellings"
		}
		b.Run(name, func(b *testing.B) {
			end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			const n = 200_000
			o := Options{
				APIKey: "k", Seed: 7, Now: func() time.Time { return end },
				Invoices:  Generator{Start: end.Add(-24 * time.Hour), End: end, Count: n, UnpaidRate: 0.05},
				Spellings: spell,
			}
			s, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
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
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(n)*float64(b.N)/sec, "tx/s")
			b.ReportMetric(float64(bytes)/float64(b.N)/n, "B/tx")
		})
	}
}
