package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nordpay/nordpay-jobs/config"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nordpay-jobs.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, `
database_url: postgres://file/db
nordpay:
  base_url: https://file.example/
  max_retries: 2
log:
  level: debug
`)
	t.Run("DefaultsOnly", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load("", env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.NordPay.BaseURL != "https://api.nord-pay.com/" || c.NordPay.MaxRetries != 4 || c.Log.Level != "info" ||
			c.NordPay.ResponseTimeout.D() != time.Minute || c.Source("nordpay.base_url") != "default" {
			t.Fatalf("defaults: %+v", c)
		}
	})
	t.Run("FileOverDefaults", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(file, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.DatabaseURL != "postgres://file/db" || c.NordPay.MaxRetries != 2 || c.Log.Level != "debug" || c.NordPay.ResponseTimeout.D() != time.Minute {
			t.Fatalf("file: %+v", c)
		}
		if c.Source("nordpay.max_retries") != "file "+file {
			t.Fatalf("source = %q", c.Source("nordpay.max_retries"))
		}
	})
	t.Run("FileFromEnvironment", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load("", env(map[string]string{config.EnvConfigFile: file}))
		if err != nil || c.DatabaseURL != "postgres://file/db" {
			t.Fatalf("%+v %v", c, err)
		}
	})
	t.Run("EnvOverFile", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(file, env(map[string]string{
			config.EnvDatabaseURL: "postgres://env/db",
			config.EnvBaseURL:     "http://127.0.0.1:8089/",
			config.EnvAPIKey:      "env-key",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if c.DatabaseURL != "postgres://env/db" || c.NordPay.BaseURL != "http://127.0.0.1:8089/" || c.NordPay.APIKey.Reveal() != "env-key" {
			t.Fatalf("env: %+v", c)
		}
		if c.Source("database_url") != "env DATABASE_URL" {
			t.Fatalf("source = %q", c.Source("database_url"))
		}
	})
	t.Run("FlagOverEnv", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(file, env(map[string]string{config.EnvDatabaseURL: "postgres://env/db"}))
		if err != nil {
			t.Fatal(err)
		}
		c.Set("database_url", "flag --database-url", func(c *config.Config) { c.DatabaseURL = "postgres://flag/db" })
		if c.DatabaseURL != "postgres://flag/db" || c.Source("database_url") != "flag --database-url" {
			t.Fatalf("flag: %+v", c)
		}
	})
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	t.Run("UnknownKeyNamesLine", func(t *testing.T) {
		t.Parallel()
		_, err := config.Load(writeFile(t, "nordpay:\n  base_ulr: https://x/\n"), env(nil))
		if err == nil || !strings.Contains(err.Error(), "base_ulr") || !strings.Contains(err.Error(), "line 2") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("BadDuration", func(t *testing.T) {
		t.Parallel()
		_, err := config.Load(writeFile(t, "nordpay:\n  response_timeout: soon\n"), env(nil))
		if err == nil || !strings.Contains(err.Error(), `"soon" is not a duration`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("MissingFile", func(t *testing.T) {
		t.Parallel()
		_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil))
		if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	c, err := config.Load(writeFile(t, "log:\n  format: xml\n"), env(map[string]string{config.EnvBaseURL: "ftp://x"}))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	var ve *config.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{`nordpay.base_url: "ftp://x" is not an absolute http(s) URL (from env NORDPAY_BASE_URL)`, `log.format: "xml" is not one of text, json (from file `} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestValidationErrorSources(t *testing.T) {
	t.Parallel()
	load := func(t *testing.T) config.Config {
		t.Helper()
		c, err := config.Load(writeFile(t, "log:\n  format: xml\n"), env(map[string]string{config.EnvBaseURL: "ftp://x"}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	problems := func(t *testing.T, c config.Config) *config.ValidationError {
		t.Helper()
		var ve *config.ValidationError
		if err := c.Validate(); !errors.As(err, &ve) {
			t.Fatalf("Validate = %v, want a *ValidationError", err)
		}
		return ve
	}
	t.Run("FileAndEnvAreNotFlags", func(t *testing.T) {
		t.Parallel()
		ve := problems(t, load(t))
		if ve.FromFlag() {
			t.Fatalf("FromFlag() = true for %v", ve)
		}
		for _, p := range ve.Problems {
			if p.FromFlag() || p.Source == "" || !strings.Contains(ve.Error(), p.String()) {
				t.Errorf("problem %+v", p)
			}
		}
	})
	t.Run("FlagNamed", func(t *testing.T) {
		t.Parallel()
		c := load(t)
		c.Set("log.level", config.FlagSource+"--log-level", func(c *config.Config) { c.Log.Level = "bogus" })
		ve := problems(t, c)
		if !ve.FromFlag() || len(ve.Problems) != 3 {
			t.Fatalf("FromFlag() = %v, problems %+v", ve.FromFlag(), ve.Problems)
		}
		for _, p := range ve.Problems {
			if p.FromFlag() != (p.Key == "log.level") {
				t.Errorf("problem %+v: FromFlag() = %v", p, p.FromFlag())
			}
		}
		if want := `log.level: "bogus" is not one of debug, info, warn, error (from flag --log-level)`; !strings.Contains(ve.Error(), want) {
			t.Errorf("error %q lacks %q", ve, want)
		}
	})
}

func TestAPIKeyStaysSecret(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", env(map[string]string{config.EnvAPIKey: "super-secret-key", config.EnvBaseURL: "nope"}))
	if err != nil {
		t.Fatal(err)
	}
	verr := c.Validate()
	for _, s := range []string{verr.Error(), sprintf("%v %+v %#v", c, c, c)} {
		if strings.Contains(s, "super-secret-key") {
			t.Fatalf("key leaked: %s", s)
		}
	}
}

func TestExampleFileIsValid(t *testing.T) {
	t.Parallel()
	c, err := config.Load("nordpay-jobs.example.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	def := config.Default()
	if c.NordPay.BaseURL != def.NordPay.BaseURL || c.NordPay.MaxRetries != def.NordPay.MaxRetries || c.Log != def.Log {
		t.Fatalf("the example's values drifted from the defaults: %+v", c)
	}
}
