package config_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
)

func TestJobsSection(t *testing.T) {
	t.Parallel()
	t.Run("ExampleEqualsTheDefaults", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load("nordpay-jobs.example.yaml", env(nil))
		if err != nil {
			t.Fatal(err)
		}
		def := config.Default()
		if !reflect.DeepEqual(c.Jobs, def.Jobs) || c.Serve != def.Serve {
			t.Fatalf("the example's jobs or serve section drifted from the defaults:\n%+v %+v\n%+v %+v", c.Jobs, c.Serve, def.Jobs, def.Serve)
		}
	})
	t.Run("ExampleDocumentsEveryKind", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile("nordpay-jobs.example.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, kind := range config.JobKinds {
			if !strings.Contains(string(data), "kind: "+kind+"\n") {
				t.Errorf("the example shows no job of kind %s", kind)
			}
		}
	})
	t.Run("OmittedSettingsTakeTheJobDefaults", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(writeFile(t, `
jobs:
  - name: nightly
    kind: statements
    schedule: "30 2 * * *"
    time_zone: Europe/Berlin
    retries:
      max_attempts: 5
    settings:
      formats: [csv, xlsx]
`), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		want := config.DefaultJob()
		want.Name, want.Kind, want.Schedule, want.TimeZone = "nightly", "statements", "30 2 * * *", "Europe/Berlin"
		want.Retries.MaxAttempts = 5
		want.Settings = map[string]any{"formats": []any{"csv", "xlsx"}}
		if len(c.Jobs) != 1 || !reflect.DeepEqual(c.Jobs[0], want) {
			t.Fatalf("got %+v\nwant %+v", c.Jobs, want)
		}
		if c.Jobs[0].Retries.Backoff.D() != time.Minute || !c.Jobs[0].Enabled {
			t.Fatalf("defaults lost: %+v", c.Jobs[0])
		}
	})
	t.Run("UnknownJobSettingNamesItsLine", func(t *testing.T) {
		t.Parallel()
		_, err := config.Load(writeFile(t, "jobs:\n  - name: sync\n    kind: sync\n    schedul: \"* * * * *\"\n"), env(nil))
		if err == nil || !strings.Contains(err.Error(), `line 4: unknown job setting "schedul"`) {
			t.Fatalf("err = %v", err)
		}
		_, err = config.Load(writeFile(t, "jobs:\n  - name: sync\n    retries:\n      attempts: 2\n"), env(nil))
		if err == nil || !strings.Contains(err.Error(), `line 4: unknown retries setting "attempts"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ValidationNamesTheJobAndTheFile", func(t *testing.T) {
		t.Parallel()
		file := writeFile(t, `
serve:
  lease: 10ms
  admin_addr: localhost
jobs:
  - name: Sync
    kind: sync
    schedule: "* * * * *"
  - name: pull
    kind: statments
    schedule: ""
    timeout: 0s
    retries: {max_attempts: 0}
  - name: pull
    kind: sync
    schedule: "@hourly"
    catch_up: -1h
`)
		c, err := config.Load(file, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Validate()
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{
			`serve.lease: 10ms is shorter than a second (from file ` + file + `)`,
			`serve.admin_addr: "localhost" is not host:port`,
			`jobs: job "Sync": a name is lower-case letters, digits, - and _ (from file ` + file + `)`,
			`jobs: job "pull": unknown kind "statments" (want sync, statements, reconcile, payouts-inbox)`,
			`jobs: job "pull" has no schedule`,
			`jobs: job "pull": timeout must be positive`,
			`jobs: job "pull": retries.max_attempts 0 is outside 1..100`,
			`jobs: job "pull" is configured twice`,
			`jobs: job "pull": catch_up must not be negative`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error lacks %q:\n%v", want, err)
			}
		}
	})
}
