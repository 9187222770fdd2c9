package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nordpay/nordpay-jobs/config"
	"github.com/nordpay/nordpay-jobs/db"
	"github.com/nordpay/nordpay-jobs/nordpay"
)

// Stdio are the streams a command reads and writes; tests pass buffers.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Main is the wiring of one invocation: configuration, logger, clock, and the connections it
// opens on demand. Tests build it through Run, exactly as the binary does.
type Main struct {
	Stdio
	// Config is loaded by the root command before any subcommand runs.
	Config config.Config
	// Logger writes to stderr in the configured format.
	Logger *slog.Logger
	// Now is the clock.
	Now func() time.Time
	// Getenv reads the environment.
	Getenv func(string) string

	flags         globalFlags
	closers       []func() error
	schemaChecked bool
}

// globalFlags are the flags every command takes.
type globalFlags struct {
	configPath  string
	databaseURL string
	baseURL     string
	logLevel    string
	logFormat   string
}

// loadConfig applies defaults, the file, the environment and the flags, then validates.
func (m *Main) loadConfig(changed func(string) bool) error {
	cfg, err := config.Load(m.flags.configPath, m.Getenv)
	if err != nil {
		return err
	}
	if changed("database-url") {
		v := m.flags.databaseURL
		cfg.Set("database_url", "flag --database-url", func(c *config.Config) { c.DatabaseURL = v })
	}
	if changed("base-url") {
		v := m.flags.baseURL
		cfg.Set("nordpay.base_url", "flag --base-url", func(c *config.Config) { c.NordPay.BaseURL = v })
	}
	if changed("log-level") {
		v := m.flags.logLevel
		cfg.Set("log.level", "flag --log-level", func(c *config.Config) { c.Log.Level = v })
	}
	if changed("log-format") {
		v := m.flags.logFormat
		cfg.Set("log.format", "flag --log-format", func(c *config.Config) { c.Log.Format = v })
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	m.Config = cfg
	m.Logger = newLogger(m.Err, cfg.Log)
	return nil
}

// newLogger builds the slog logger of the configured level and format.
func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OpenDB connects to the configured database, whose schema must be up to date (checked once
// per command: one query); it is closed when the command ends.
func (m *Main) OpenDB(ctx context.Context) (*sqlx.DB, error) {
	conn, err := m.OpenDBForMigration(ctx)
	if err != nil {
		return nil, err
	}
	if !m.schemaChecked {
		if err := db.CheckSchema(ctx, conn.DB, db.RedactURL(m.Config.DatabaseURL)); err != nil {
			return nil, err
		}
		m.schemaChecked = true
	}
	return conn, nil
}

// OpenDBForMigration connects to the configured database whatever its schema, for the
// commands that bring it up to date (migrate, demo); it is closed when the command ends.
func (m *Main) OpenDBForMigration(ctx context.Context) (*sqlx.DB, error) {
	if err := m.Config.RequireDatabase(); err != nil {
		return nil, err
	}
	conn, err := db.Open(ctx, m.Config.DatabaseURL)
	if err != nil {
		return nil, err
	}
	m.onClose(conn.Close)
	return conn, nil
}

// Client builds the Nord PAY client from the configuration.
func (m *Main) Client() (*nordpay.Client, error) {
	if err := m.Config.RequireAPIKey(); err != nil {
		return nil, err
	}
	opts := m.Config.ClientOptions()
	opts.Logger = m.Logger
	return nordpay.New(opts)
}

// onClose registers a cleanup to run when the command ends, last registered first.
func (m *Main) onClose(f func() error) { m.closers = append(m.closers, f) }

// Close runs the cleanups.
func (m *Main) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

// printJSON writes v as indented JSON on stdout, for --json output.
func (m *Main) printJSON(v any) error {
	enc := json.NewEncoder(m.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printf writes a line of human output on stdout.
func (m *Main) printf(format string, args ...any) {
	fmt.Fprintf(m.Out, format, args...)
}
