package db_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ outcome, in, want string }{
		{"URLPasswordReplaced", "postgres://app:s3cret@db:5432/books?sslmode=disable", "postgres://app:xxxxx@db:5432/books?sslmode=disable"},
		{"URLWithoutPasswordUnchanged", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"},
		{"QueryPasswordReplaced", "postgres://app@db/books?password=s3cret", "postgres://app@db/books?password=xxxxx"},
		{"EscapedPasswordReplaced", "postgres://app:s%40cr%2Fet@db/books", "postgres://app:xxxxx@db/books"},
		{"KeyValuePasswordReplaced", "host=db user=app password=s3cret dbname=books", "host=db user=app password=xxxxx dbname=books"},
		{"QuotedKeyValuePasswordReplaced", "host=db password='s3 cr\\'et' dbname=books", "host=db password=xxxxx dbname=books"},
		{"MalformedURLPasswordReplaced", "postgres://app:s3cret@db:notaport/books", "postgres://app:xxxxx@db:notaport/books"},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			if got := db.RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ConnectsAndPings", func(t *testing.T) {
		t.Parallel()
		conn, err := db.Open(ctx, dbtest.URL(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer conn.Close()
		var n int
		if err := conn.GetContext(ctx, &n, `SELECT count(*) FROM currencies`); err != nil {
			t.Fatalf("query the migrated schema: %v", err)
		}
	})

	// A port that was free a moment ago: nothing answers there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ outcome, url string }{
		{"UnreachableServerErrorHidesPassword", "postgres://app:s3cret@" + closedAddr + "/books?sslmode=disable"},
		{"MalformedURLErrorHidesPassword", "postgres://app:s3cret@db:notaport/books"},
		{"KeyValueErrorHidesPassword", "host=127.0.0.1 port=" + closedAddr[strings.LastIndex(closedAddr, ":")+1:] + " user=app password=s3cret sslmode=disable"},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			conn, err := db.Open(ctx, tc.url)
			if err == nil {
				conn.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the password: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "db: ") {
				t.Errorf("error %q lacks the db: prefix", err)
			}
			t.Log(err)
		})
	}
}

func TestCurrenciesSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := dbtest.New(t)

	t.Run("ValidRowKeepsExactAmounts", func(t *testing.T) {
		if _, err := conn.ExecContext(ctx, `
			INSERT INTO currencies (name, token, network, decimals, network_fee, min_withdraw, rate)
			VALUES ('USDTBEP20', 'USDT', 'BEP20', 18, 0.000000000000000001, 10.5, 1.0001)`); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var fee string
		if err := conn.GetContext(ctx, &fee, `SELECT network_fee::text FROM currencies WHERE name = 'USDTBEP20'`); err != nil {
			t.Fatal(err)
		}
		if fee != "0.000000000000000001" {
			t.Errorf("network_fee = %s, want it exact", fee)
		}
	})

	for _, tc := range []struct{ outcome, insert string }{
		{"ErrDecimalsOver30", `INSERT INTO currencies (name, decimals) VALUES ('BAD1', 31)`},
		{"ErrNegativeDecimals", `INSERT INTO currencies (name, decimals) VALUES ('BAD2', -1)`},
		{"ErrNegativeMinDeposit", `INSERT INTO currencies (name, decimals, min_deposit) VALUES ('BAD3', 8, -0.1)`},
		{"ErrNegativeMinWithdraw", `INSERT INTO currencies (name, decimals, min_withdraw) VALUES ('BAD4', 8, -1)`},
		{"ErrMissingDecimals", `INSERT INTO currencies (name) VALUES ('BAD5')`},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			if _, err := conn.ExecContext(ctx, tc.insert); err == nil {
				t.Errorf("%s succeeded, want a constraint violation", tc.insert)
			}
		})
	}
}
