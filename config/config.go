// Package config holds the one configuration of nordpay-jobs: defaults, a YAML file, the
// environment and command-line flags, applied in that order (flags > env > file > defaults),
// and validated with errors that name the setting and where its value came from.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nordpay/nordpay-jobs/ledger"
	"github.com/nordpay/nordpay-jobs/nordpay"
	"go.yaml.in/yaml/v3"
)

// Environment variables of the command-line contract.
const (
	EnvDatabaseURL = "DATABASE_URL"
	EnvAPIKey      = "NORDPAY_API_KEY"
	EnvBaseURL     = "NORDPAY_BASE_URL"
	EnvConfigFile  = "NORDPAY_JOBS_CONFIG"
)

// Config is everything nordpay-jobs can be told. Each later part of the product adds its own
// section here, with defaults in Default and checks in Validate.
type Config struct {
	// DatabaseURL is the PostgreSQL connection URL (env DATABASE_URL).
	DatabaseURL string `yaml:"database_url"`
	// NordPay configures the API client.
	NordPay NordPay `yaml:"nordpay"`
	// Log configures log lines on stderr.
	Log Log `yaml:"log"`
	// Sync configures how transactions are pulled into the ledger.
	Sync Sync `yaml:"sync"`
	// Ledger configures the books.
	Ledger Ledger `yaml:"ledger"`

	sources map[string]string
}

// Sync configures `nordpay-jobs sync`.
type Sync struct {
	// Start is where the very first sync begins when no --from is given: a date (2026-01-01,
	// midnight UTC) or an RFC 3339 time. Later syncs continue from the stored watermark.
	Start string `yaml:"start"`
	// Window is how much time one API call and one database transaction cover. Defaults to 24h.
	Window Duration `yaml:"window"`
	// Overlap widens each window's query on both sides, because the API does not say whether
	// end_date is inclusive; the ledger books each transaction once anyway. Defaults to 5m.
	Overlap Duration `yaml:"overlap"`
	// Lookback is how far before the watermark each run pulls again, to book transactions
	// that the API shows late (late confirmations). Defaults to 48h.
	Lookback Duration `yaml:"lookback"`
	// Sources are the transaction kinds to pull: invoice, wallet. Defaults to both.
	Sources []string `yaml:"sources"`
}

// Ledger configures the books.
type Ledger struct {
	// Accounts names the accounts; {CUR} stands for the currency.
	Accounts ledger.Chart `yaml:"accounts"`
}

// NordPay configures the API client.
type NordPay struct {
	// BaseURL is the API root (env NORDPAY_BASE_URL). Defaults to https://api.nord-pay.com/.
	BaseURL string `yaml:"base_url"`
	// APIKey is the X-API-KEY (env NORDPAY_API_KEY). Prefer the environment to the file.
	APIKey nordpay.Secret `yaml:"api_key"`
	// MaxRetries is how often a read is retried on network errors, 429 and 5xx. Defaults to 4.
	MaxRetries int `yaml:"max_retries"`
	// ResponseTimeout bounds the wait for an answer to start. Defaults to 60s.
	ResponseTimeout Duration `yaml:"response_timeout"`
}

// Log configures log lines.
type Log struct {
	// Level is debug, info, warn or error. Defaults to info.
	Level string `yaml:"level"`
	// Format is text or json. Defaults to text.
	Format string `yaml:"format"`
}

// Duration is a time.Duration written as "15m", "1h30m" or "45s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write e.g. 90s, 15m, 1h)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the configuration before any file, environment or flag.
func Default() Config {
	c := Config{
		NordPay: NordPay{
			BaseURL:         nordpay.DefaultBaseURL,
			MaxRetries:      4,
			ResponseTimeout: Duration(60 * time.Second),
		},
		Log: Log{Level: "info", Format: "text"},
		Sync: Sync{
			Window:   Duration(24 * time.Hour),
			Overlap:  Duration(5 * time.Minute),
			Lookback: Duration(48 * time.Hour),
			Sources:  []string{"invoice", "wallet"},
		},
		Ledger: Ledger{Accounts: ledger.DefaultChart()},
	}
	c.sources = map[string]string{}
	return c
}

// Load builds the configuration from defaults, the YAML file at path (or, when path is empty,
// the one named by NORDPAY_JOBS_CONFIG; no file is fine) and the environment read through
// getenv. Flags are applied afterwards with Set. It does not validate: call Validate last.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	if path == "" {
		path = getenv(EnvConfigFile)
	}
	if path != "" {
		if err := c.loadFile(path); err != nil {
			return c, err
		}
	}
	c.applyEnv(getenv)
	return c, nil
}

func (c *Config) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return c.loadYAML(path, bytes.NewReader(data))
}

// loadYAML decodes a YAML document over c; unknown keys are errors, so that a misspelt setting
// is not silently ignored.
func (c *Config) loadYAML(name string, r io.Reader) error {
	var present map[string]any
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := yaml.Unmarshal(data, &present); err == nil {
		for _, key := range flatten("", present) {
			c.sources[key] = "file " + name
		}
	}
	return nil
}

// flatten lists the dotted keys a YAML document sets ("nordpay.base_url").
func flatten(prefix string, m map[string]any) []string {
	var keys []string
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			keys = append(keys, flatten(key, sub)...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

func (c *Config) applyEnv(getenv func(string) string) {
	if v := getenv(EnvDatabaseURL); v != "" {
		c.Set("database_url", "env "+EnvDatabaseURL, func(c *Config) { c.DatabaseURL = v })
	}
	if v := getenv(EnvBaseURL); v != "" {
		c.Set("nordpay.base_url", "env "+EnvBaseURL, func(c *Config) { c.NordPay.BaseURL = v })
	}
	if v := getenv(EnvAPIKey); v != "" {
		c.Set("nordpay.api_key", "env "+EnvAPIKey, func(c *Config) { c.NordPay.APIKey = nordpay.Secret(v) })
	}
}

// Set changes one setting and records where its value came from ("flag --base-url"), so that
// Validate can say which source to fix.
func (c *Config) Set(key, source string, apply func(*Config)) {
	apply(c)
	if c.sources == nil {
		c.sources = map[string]string{}
	}
	c.sources[key] = source
}

// Source says where a setting's value came from: "default", "file PATH", "env NAME" or
// "flag --NAME".
func (c *Config) Source(key string) string {
	if s, ok := c.sources[key]; ok {
		return s
	}
	return "default"
}

// Validate checks every setting and reports all problems at once, each naming the setting and
// the source of its value.
func (c *Config) Validate() error {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: %s (from %s)", key, fmt.Sprintf(format, args...), c.Source(key)))
	}
	if u, err := url.Parse(c.NordPay.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("nordpay.base_url", "%q is not an absolute http(s) URL", c.NordPay.BaseURL)
	} else if u.User != nil {
		bad("nordpay.base_url", "must not carry credentials")
	}
	if c.NordPay.MaxRetries < 0 || c.NordPay.MaxRetries > 20 {
		bad("nordpay.max_retries", "%d is outside 0..20", c.NordPay.MaxRetries)
	}
	if c.NordPay.ResponseTimeout.D() <= 0 {
		bad("nordpay.response_timeout", "must be positive")
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql" && !strings.Contains(c.DatabaseURL, "=")) {
			bad("database_url", "is neither a postgres:// URL nor a key=value connection string")
		}
	}
	if c.Sync.Start != "" {
		if _, err := ParseTime(c.Sync.Start); err != nil {
			bad("sync.start", "%v", err)
		}
	}
	if c.Sync.Window.D() < time.Minute {
		bad("sync.window", "%s is shorter than a minute", c.Sync.Window.D())
	}
	if c.Sync.Overlap.D() < 0 || c.Sync.Overlap.D() >= c.Sync.Window.D() {
		bad("sync.overlap", "%s must be at least 0 and shorter than the window", c.Sync.Overlap.D())
	}
	if c.Sync.Lookback.D() < 0 {
		bad("sync.lookback", "must not be negative")
	}
	if len(c.Sync.Sources) == 0 {
		bad("sync.sources", "lists no source; use invoice, wallet or both")
	}
	for _, src := range c.Sync.Sources {
		if src != "invoice" && src != "wallet" {
			bad("sync.sources", "%q is not invoice or wallet", src)
		}
	}
	if err := c.Ledger.Accounts.Validate(); err != nil {
		bad("ledger.accounts", "%s", strings.TrimPrefix(err.Error(), "ledger: "))
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	return &ValidationError{Problems: errs}
}

// ValidationError lists every problem of a configuration.
type ValidationError struct {
	// Problems are lines "key: what is wrong (from source)".
	Problems []string
}

// Error joins the problems on one line.
func (e *ValidationError) Error() string {
	return "config: " + strings.Join(e.Problems, "; ")
}

// RequireDatabase reports a clear error when no database is configured.
func (c *Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("no database: set DATABASE_URL, --database-url or database_url in the config file")
	}
	return nil
}

// RequireAPIKey reports a clear error when no API key is configured.
func (c *Config) RequireAPIKey() error {
	if !c.NordPay.APIKey.IsSet() {
		return errors.New("no API key: set NORDPAY_API_KEY (or nordpay.api_key in the config file)")
	}
	return nil
}

// ClientOptions turns the configuration into nordpay client options.
func (c *Config) ClientOptions() nordpay.Options {
	retries := c.NordPay.MaxRetries
	if retries == 0 {
		retries = -1 // the client reads 0 as "default"; here 0 means none
	}
	return nordpay.Options{
		BaseURL:               c.NordPay.BaseURL,
		APIKey:                c.NordPay.APIKey,
		MaxRetries:            retries,
		ResponseHeaderTimeout: c.NordPay.ResponseTimeout.D(),
	}
}

// ParseTime reads a time as the command line takes it: a date (2026-10-01, meaning midnight
// UTC) or an RFC 3339 time (2026-10-01T12:00:00Z, 2026-10-01T14:00:00+02:00).
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a date (2026-10-01) nor an RFC 3339 time (2026-10-01T12:00:00Z)", s)
}
