package pgtemp_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/nordpay/nordpay-jobs/db/pgtemp"
)

// syncBuffer lets the test read what the cluster logged while it may still write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStart(t *testing.T) {
	t.Parallel()

	t.Run("ServesQueriesAndLeavesNothingAfterStop", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()

		var log syncBuffer
		c, err := pgtemp.Start(ctx, pgtemp.Options{
			Log:      &log,
			Settings: map[string]string{"work_mem": "8MB", "application_name": "it's pgtemp"},
		})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		stopped := false
		t.Cleanup(func() {
			if !stopped {
				_ = c.Stop()
			}
		})
		if !strings.HasPrefix(c.URL(), "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(c.URL(), "/postgres?sslmode=disable") {
			t.Errorf("URL() = %q, want postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable", c.URL())
		}

		conn, err := sql.Open("postgres", c.URL())
		if err != nil {
			t.Fatalf("sql.Open: %v", err)
		}
		var fsync, workMem string
		if err := conn.QueryRowContext(ctx, `SELECT current_setting('fsync'), current_setting('work_mem')`).Scan(&fsync, &workMem); err != nil {
			t.Fatalf("query: %v", err)
		}
		if fsync != "off" || workMem != "8MB" {
			t.Errorf("fsync=%s work_mem=%s, want off and 8MB (default and extra settings applied)", fsync, workMem)
		}
		if err := conn.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}

		dir := c.Dir()
		if err := c.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		stopped = true
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after Stop, stat %s: %v; want it gone", dir, err)
		}
		if err := c.Stop(); err != nil {
			t.Errorf("second Stop: %v, want nil", err)
		}
		if !strings.Contains(log.String(), "ready at 127.0.0.1:") {
			t.Errorf("progress log lacks the ready line:\n%s", log.String())
		}
	})

	t.Run("ReservedSettingIsAnError", func(t *testing.T) {
		t.Parallel()
		_, err := pgtemp.Start(context.Background(), pgtemp.Options{Settings: map[string]string{"port": "5432"}})
		if err == nil || !strings.Contains(err.Error(), `"port"`) {
			t.Fatalf("Start with port setting: err = %v, want an error naming the setting", err)
		}
	})

	t.Run("BadSettingFailsWithServerLogAndCleansUp", func(t *testing.T) {
		t.Parallel()
		// Not t.TempDir: its parent is private, and when we are root the
		// postgres user must reach the cluster directory.
		parent, err := os.MkdirTemp("", "pgtemp-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(parent) })
		if err := os.Chmod(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err = pgtemp.Start(context.Background(), pgtemp.Options{
			Dir:      parent,
			Settings: map[string]string{"shared_buffers": "not-a-size"},
		})
		if err == nil {
			t.Fatal("Start with an invalid setting succeeded")
		}
		if !strings.Contains(err.Error(), "shared_buffers") {
			t.Errorf("error does not quote the server log about shared_buffers:\n%v", err)
		}
		entries, readErr := os.ReadDir(parent)
		if readErr != nil {
			t.Fatal(readErr)
		}
		if len(entries) != 0 {
			t.Errorf("failed Start left %d entries in %s", len(entries), parent)
		}
	})
}
