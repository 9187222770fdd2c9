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
	"github.com/shopspring/decimal"
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
	// Export configures statements.
	Export Export `yaml:"export"`
	// Payouts configures mass payouts.
	Payouts Payouts `yaml:"payouts"`
	// Serve configures `nordpay-jobs serve`, the scheduler daemon.
	Serve Serve `yaml:"serve"`
	// Jobs are the jobs serve runs; a file's list replaces the default one.
	Jobs []Job `yaml:"jobs"`

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

// Export configures `nordpay-jobs export`.
type Export struct {
	// TemplateDir is a directory of statement templates (NAME.yaml) that override the
	// embedded ones of the same name or add new ones; --template-dir overrides it. Defaults
	// to none: the embedded templates only.
	TemplateDir string `yaml:"template_dir"`
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

// Payouts configures mass payouts (`nordpay-jobs payouts ...`): who approves, how a batch is
// cut into requests, what a quote must satisfy before it is confirmed, and the caps that
// validation applies to a sheet. Amounts are exact decimals in the currency named by the key
// (write them plainly: 2500, 0.5); percentages are numbers of percent (5 means 5%).
type Payouts struct {
	// Approvers is how many distinct people, none of them the importer, must approve a batch.
	// Defaults to 1.
	Approvers int `yaml:"approvers"`
	// Thresholds ask for more approvers when a batch's total in a currency is above an
	// amount. Defaults to none.
	Thresholds []PayoutThreshold `yaml:"thresholds"`
	// ApprovalTTL is how long an approval stays valid; a run after it needs a new one.
	// Defaults to 24h.
	ApprovalTTL Duration `yaml:"approval_ttl"`
	// RowsPerRequest caps the rows of one multiple-withdraw request (one chunk). Defaults to 100.
	RowsPerRequest int `yaml:"rows_per_request"`
	// Fees are the expected withdrawal fees per currency (fixed per row plus a percentage
	// of the row's amount): shown before approval, and what a quote's fee must be near. A
	// currency without one is expected to cost nothing and skips the "near" check. Defaults
	// to none.
	Fees map[string]PayoutFee `yaml:"fees"`
	// FeeCeiling caps the quoted fee of one request, per currency. Defaults to none.
	FeeCeiling map[string]decimal.Decimal `yaml:"fee_ceiling"`
	// FeeCeilingPercent caps the quoted fee of one request as a percentage of its amount.
	// Defaults to 5.
	FeeCeilingPercent decimal.Decimal `yaml:"fee_ceiling_percent"`
	// FeeTolerancePercent is how far, either way, a quoted fee may be from the expected fee,
	// as a percentage of the expected fee. Defaults to 10.
	FeeTolerancePercent decimal.Decimal `yaml:"fee_tolerance_percent"`
	// FeeTolerance adds an absolute slack per currency to FeeTolerancePercent. Defaults to none.
	FeeTolerance map[string]decimal.Decimal `yaml:"fee_tolerance"`
	// MinQuoteLifetime is the validity a quote must have left to be confirmed. Defaults to 30s.
	MinQuoteLifetime Duration `yaml:"min_quote_lifetime"`
	// MaxRowAmount caps one row per currency (fat-finger protection). Defaults to none.
	MaxRowAmount map[string]decimal.Decimal `yaml:"max_row_amount"`
	// MaxBatchAmount caps a batch's total per currency. Defaults to none.
	MaxBatchAmount map[string]decimal.Decimal `yaml:"max_batch_amount"`
	// MaxRows caps the payout rows of a sheet. Defaults to 100000.
	MaxRows int `yaml:"max_rows"`
	// MaxBytes caps a sheet file's size. Defaults to 33554432 (32 MiB).
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxUnzippedBytes caps the unzipped size of an XLSX's parts. Defaults to 268435456 (256 MiB).
	MaxUnzippedBytes int64 `yaml:"max_unzipped_bytes"`
}

// PayoutThreshold asks for Approvers approvals of a batch whose total in Currency is above Above.
type PayoutThreshold struct {
	Currency  string          `yaml:"currency"`
	Above     decimal.Decimal `yaml:"above"`
	Approvers int             `yaml:"approvers"`
}

// PayoutFee is an expected withdrawal fee: Fixed per row plus Percent of the row's amount.
type PayoutFee struct {
	Fixed   decimal.Decimal `yaml:"fixed"`
	Percent decimal.Decimal `yaml:"percent"`
}

// DefaultPayouts returns the payouts section's defaults.
func DefaultPayouts() Payouts {
	return Payouts{
		Approvers:           1,
		ApprovalTTL:         Duration(24 * time.Hour),
		RowsPerRequest:      100,
		FeeCeilingPercent:   decimal.NewFromInt(5),
		FeeTolerancePercent: decimal.NewFromInt(10),
		MinQuoteLifetime:    Duration(30 * time.Second),
		MaxRows:             100_000,
		MaxBytes:            32 << 20,
		MaxUnzippedBytes:    256 << 20,
	}
}

// validate reports the payouts section's problems through bad.
func (p Payouts) validate(bad func(key, format string, args ...any)) {
	if p.Approvers < 1 || p.Approvers > 10 {
		bad("payouts.approvers", "%d is outside 1..10", p.Approvers)
	}
	for i, th := range p.Thresholds {
		key := fmt.Sprintf("payouts.thresholds[%d]", i)
		switch {
		case th.Currency == "":
			bad(key, "names no currency")
		case th.Above.IsNegative():
			bad(key, "above %s is negative", th.Above)
		case th.Approvers < 1 || th.Approvers > 10:
			bad(key, "approvers %d is outside 1..10", th.Approvers)
		}
	}
	if p.ApprovalTTL.D() < time.Minute {
		bad("payouts.approval_ttl", "%s is shorter than a minute", p.ApprovalTTL.D())
	}
	if p.RowsPerRequest < 1 || p.RowsPerRequest > 10_000 {
		bad("payouts.rows_per_request", "%d is outside 1..10000", p.RowsPerRequest)
	}
	for cur, f := range p.Fees {
		if f.Fixed.IsNegative() || f.Percent.IsNegative() || f.Percent.GreaterThanOrEqual(decimal.NewFromInt(100)) {
			bad("payouts.fees."+cur, "fixed must be at least 0 and percent within 0..100")
		}
	}
	for _, m := range []struct {
		key string
		v   map[string]decimal.Decimal
	}{{"payouts.fee_ceiling", p.FeeCeiling}, {"payouts.fee_tolerance", p.FeeTolerance},
		{"payouts.max_row_amount", p.MaxRowAmount}, {"payouts.max_batch_amount", p.MaxBatchAmount}} {
		for cur, v := range m.v {
			if v.IsNegative() {
				bad(m.key+"."+cur, "%s is negative", v)
			}
		}
	}
	if !p.FeeCeilingPercent.IsPositive() || p.FeeCeilingPercent.GreaterThan(decimal.NewFromInt(100)) {
		bad("payouts.fee_ceiling_percent", "%s is outside (0, 100]", p.FeeCeilingPercent)
	}
	if !p.FeeTolerancePercent.IsPositive() {
		bad("payouts.fee_tolerance_percent", "%s must be positive", p.FeeTolerancePercent)
	}
	if p.MinQuoteLifetime.D() <= 0 {
		bad("payouts.min_quote_lifetime", "must be positive")
	}
	if p.MaxRows < 1 {
		bad("payouts.max_rows", "must be positive")
	}
	if p.MaxBytes < 1 {
		bad("payouts.max_bytes", "must be positive")
	}
	if p.MaxUnzippedBytes < 1 {
		bad("payouts.max_unzipped_bytes", "must be positive")
	}
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
		Ledger:  Ledger{Accounts: ledger.DefaultChart()},
		Payouts: DefaultPayouts(),
		Serve:   DefaultServe(),
		Jobs:    DefaultJobs(),
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
// Validate can say which source to fix. A source that starts with FlagSource marks a value
// given on the command line (see Problem.FromFlag).
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

// FlagSource starts the source of a setting given by a command-line flag: "flag --base-url".
const FlagSource = "flag "

// Validate checks every setting and reports all problems at once, each naming the setting and
// the source of its value.
func (c *Config) Validate() error {
	var errs []Problem
	bad := func(key, format string, args ...any) {
		errs = append(errs, Problem{Key: key, Message: fmt.Sprintf(format, args...), Source: c.Source(key)})
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
	c.validateScheduler(bad)
	c.Payouts.validate(bad)
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
	sort.Slice(errs, func(i, j int) bool { return errs[i].String() < errs[j].String() })
	return &ValidationError{Problems: errs}
}

// Problem is one setting that does not validate, with where its value came from, so that a
// caller can tell a wrong command line from a wrong file or environment.
type Problem struct {
	// Key is the dotted setting, "log.level".
	Key string
	// Message says what is wrong with the value.
	Message string
	// Source is where the value came from: "default", "file PATH", "env NAME" or "flag --NAME".
	Source string
}

// String reads "key: what is wrong (from source)".
func (p Problem) String() string {
	return fmt.Sprintf("%s: %s (from %s)", p.Key, p.Message, p.Source)
}

// FromFlag reports whether the value came from a command-line flag.
func (p Problem) FromFlag() bool { return strings.HasPrefix(p.Source, FlagSource) }

// ValidationError lists every problem of a configuration.
type ValidationError struct {
	// Problems are in the order of their text.
	Problems []Problem
}

// Error joins the problems on one line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "config: " + strings.Join(lines, "; ")
}

// FromFlag reports whether any problem's value came from a command-line flag: the command
// line is wrong, whatever else is.
func (e *ValidationError) FromFlag() bool {
	for _, p := range e.Problems {
		if p.FromFlag() {
			return true
		}
	}
	return false
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

// Serve configures `nordpay-jobs serve`, the scheduler daemon.
type Serve struct {
	// AdminAddr is where /healthz, /livez and /metrics listen (flag --admin-addr); empty
	// turns the admin server off. Defaults to 127.0.0.1:9310.
	AdminAddr string `yaml:"admin_addr"`
	// ShutdownTimeout is how long serve waits for running jobs after SIGTERM or SIGINT before
	// it cancels them (their runs are released for another replica). Keep systemd's
	// TimeoutStopSec and Kubernetes' terminationGracePeriodSeconds above it. Defaults to 60s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Lease is how long a replica holds a running job without renewing it (it renews every
	// third of it); a run whose process died is taken over this long after its last renewal.
	// Defaults to 60s.
	Lease Duration `yaml:"lease"`
	// PollInterval is how often serve looks for runs to take over and slots missed, and
	// proves it is alive for /healthz. Defaults to 10s.
	PollInterval Duration `yaml:"poll_interval"`
}

// Job is one scheduled job of `nordpay-jobs serve`. Settings a job leaves out take the
// values of DefaultJob.
type Job struct {
	// Name identifies the job in run records, logs, metrics and `jobs run NAME`: lower-case
	// letters, digits, - and _.
	Name string `yaml:"name"`
	// Kind is sync, statements, reconcile or payouts-inbox.
	Kind string `yaml:"kind"`
	// Schedule is a cron spec: five fields (minute hour day-of-month month day-of-week), six
	// with leading seconds, or @hourly, @daily, @weekly, @monthly.
	Schedule string `yaml:"schedule"`
	// TimeZone is the IANA zone the schedule is read in. Defaults to UTC.
	TimeZone string `yaml:"time_zone"`
	// Enabled says whether serve runs the job. Defaults to true.
	Enabled bool `yaml:"enabled"`
	// Timeout bounds one attempt. Defaults to 1h.
	Timeout Duration `yaml:"timeout"`
	// Retries say how often a failed slot is tried again.
	Retries Retries `yaml:"retries"`
	// CatchUp is how far back serve, at start, runs slots that no replica ran; 0 turns
	// catch-up off. Defaults to 24h.
	CatchUp Duration `yaml:"catch_up"`
	// Settings are the kind's own settings (sync: sources, window, overlap, lookback, start).
	Settings map[string]any `yaml:"settings"`
}

// Retries say how often a failed slot is tried again.
type Retries struct {
	// MaxAttempts counts every attempt of a slot, the first included (1 to 100). Defaults to 3.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the wait after the first failed attempt, doubled after each next one (at most
	// an hour). Defaults to 1m.
	Backoff Duration `yaml:"backoff"`
}

// JobKinds are the job kinds a configuration may name; a build runs those it registers.
var JobKinds = []string{"sync", "statements", "reconcile", "payouts-inbox"}

// jobKeys and retriesKeys are the settings a job accepts (KnownFields does not reach into a
// custom unmarshaler, so Job checks its keys itself).
var (
	jobKeys     = []string{"name", "kind", "schedule", "time_zone", "enabled", "timeout", "retries", "catch_up", "settings"}
	retriesKeys = []string{"max_attempts", "backoff"}
)

// DefaultServe returns the daemon's defaults.
func DefaultServe() Serve {
	return Serve{
		AdminAddr:       "127.0.0.1:9310",
		ShutdownTimeout: Duration(60 * time.Second),
		Lease:           Duration(60 * time.Second),
		PollInterval:    Duration(10 * time.Second),
	}
}

// DefaultJob returns what a job leaves out: enabled, UTC, 1h timeout, 3 attempts 1m apart
// (doubling), 24h of catch-up.
func DefaultJob() Job {
	return Job{
		TimeZone: "UTC",
		Enabled:  true,
		Timeout:  Duration(time.Hour),
		Retries:  Retries{MaxAttempts: 3, Backoff: Duration(time.Minute)},
		CatchUp:  Duration(24 * time.Hour),
	}
}

// DefaultJobs returns the jobs of a configuration that lists none: sync every 15 minutes. A
// file's jobs list replaces this one.
func DefaultJobs() []Job {
	sync := DefaultJob()
	sync.Name, sync.Kind, sync.Schedule = "sync", "sync", "*/15 * * * *"
	return []Job{sync}
}

// UnmarshalYAML decodes a job over DefaultJob, refusing unknown settings with their line.
func (j *Job) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a job is a mapping (name, kind, schedule, ...)", n.Line)
	}
	if err := checkKeys(n, "job", jobKeys); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "retries" && n.Content[i+1].Kind == yaml.MappingNode {
			if err := checkKeys(n.Content[i+1], "retries", retriesKeys); err != nil {
				return err
			}
		}
	}
	type plain Job // no UnmarshalYAML: no recursion
	p := plain(DefaultJob())
	if err := n.Decode(&p); err != nil {
		return err
	}
	*j = Job(p)
	return nil
}

// checkKeys reports the first key of mapping n that is not in known.
func checkKeys(n *yaml.Node, what string, known []string) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ok := false
		for _, name := range known {
			ok = ok || k.Value == name
		}
		if !ok {
			return fmt.Errorf("line %d: unknown %s setting %q (known: %s)", k.Line, what, k.Value, strings.Join(known, ", "))
		}
	}
	return nil
}

// validateScheduler checks the serve and jobs sections. Cron specs and time zones are
// checked by the scheduler (package jobs), which owns their meaning.
func (c *Config) validateScheduler(bad func(key, format string, args ...any)) {
	if a := c.Serve.AdminAddr; a != "" {
		i := strings.LastIndex(a, ":")
		port := a[i+1:]
		valid := i >= 0 && port != ""
		for _, r := range port {
			valid = valid && r >= '0' && r <= '9'
		}
		if !valid {
			bad("serve.admin_addr", "%q is not host:port (e.g. 127.0.0.1:9310, or :9310 for every interface)", a)
		}
	}
	if c.Serve.ShutdownTimeout.D() < 0 {
		bad("serve.shutdown_timeout", "must not be negative")
	}
	if c.Serve.Lease.D() < time.Second {
		bad("serve.lease", "%s is shorter than a second", c.Serve.Lease.D())
	}
	if c.Serve.PollInterval.D() <= 0 {
		bad("serve.poll_interval", "must be positive")
	}
	seen := map[string]bool{}
	for i, j := range c.Jobs {
		label := fmt.Sprintf("job %q", j.Name)
		validName := j.Name != ""
		for k, r := range j.Name {
			validName = validName && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || k > 0 && (r == '-' || r == '_'))
		}
		switch {
		case j.Name == "":
			label = fmt.Sprintf("job %d", i+1)
			bad("jobs", "%s has no name", label)
		case !validName:
			bad("jobs", "%s: a name is lower-case letters, digits, - and _", label)
		case seen[j.Name]:
			bad("jobs", "%s is configured twice", label)
		}
		seen[j.Name] = true
		known := false
		for _, k := range JobKinds {
			known = known || j.Kind == k
		}
		if !known {
			bad("jobs", "%s: unknown kind %q (want %s)", label, j.Kind, strings.Join(JobKinds, ", "))
		}
		if strings.TrimSpace(j.Schedule) == "" {
			bad("jobs", "%s has no schedule (a cron spec such as */15 * * * *)", label)
		}
		if j.Timeout.D() <= 0 {
			bad("jobs", "%s: timeout must be positive", label)
		}
		if j.Retries.MaxAttempts < 1 || j.Retries.MaxAttempts > 100 {
			bad("jobs", "%s: retries.max_attempts %d is outside 1..100", label, j.Retries.MaxAttempts)
		}
		if j.Retries.Backoff.D() < 0 {
			bad("jobs", "%s: retries.backoff must not be negative", label)
		}
		if j.CatchUp.D() < 0 {
			bad("jobs", "%s: catch_up must not be negative (0 turns catch-up off)", label)
		}
	}
}
