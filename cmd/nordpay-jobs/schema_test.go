package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/db/dbtest"
)

// TestSchemaNotUpToDate: on a database that was never migrated, a command that needs the
// schema says to run migrate, in one line that names the database without its password;
// after migrate the same command works.
func TestSchemaNotUpToDate(t *testing.T) {
	t.Parallel()
	url := dbtest.EmptyURL(t)
	known, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("has schema version 0, this build needs %d: run nordpay-jobs migrate", known[len(known)-1].Version)
	env := map[string]string{"DATABASE_URL": url}
	for _, args := range [][]string{
		{"ledger", "balances"},
		{"ledger", "verify"},
		{"payouts", "status"},
		{"jobs", "list"},
		{"ledger", "quarantine"},
	} {
		code, _, stderr := run(t, env, args...)
		if code != ExitError || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line with %q", args, code, stderr, want)
		}
		if strings.Contains(stderr, "pgtdbpass") {
			t.Errorf("%v: the password is in the error: %q", args, stderr)
		}
	}
	if code, _, stderr := run(t, env, "migrate"); code != ExitOK {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, env, "ledger", "balances"); code != ExitOK {
		t.Errorf("ledger balances after migrate: exit %d: %s", code, stderr)
	}
}

// TestLedgerVerifyJSON: verify --json is snake_case like every other --json.
func TestLedgerVerifyJSON(t *testing.T) {
	t.Parallel()
	code, out, stderr := run(t, map[string]string{"DATABASE_URL": dbtest.URL(t)}, "ledger", "verify", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Checks []map[string]json.RawMessage `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Checks) == 0 {
		t.Fatalf("verify --json: %v\n%s", err, out)
	}
	for _, c := range got.Checks {
		for _, k := range []string{"name", "ok", "offenders", "examples"} {
			if _, ok := c[k]; !ok {
				t.Errorf("a check lacks %q: %s", k, out)
			}
		}
		if string(c["ok"]) != "true" {
			t.Errorf("a check fails on an empty ledger: %s", out)
		}
	}
}
