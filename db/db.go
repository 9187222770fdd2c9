// Package db owns the one PostgreSQL database of nordpay-jobs: opening it with
// sane pool settings and bringing its schema up to date from the embedded,
// numbered migrations.
package db

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // registers the "postgres" driver
)

// DriverName is the database/sql driver every package uses, so that sqlx picks
// the right bind style and tests clone databases with the same driver.
const DriverName = "postgres"

// Pool defaults: a periodic job runs a handful of queries at a time, so a small
// pool keeps the server's connection slots free for other replicas, and
// recycling connections lets a failover or a pgbouncer restart heal by itself.
const (
	maxOpenConns    = 10
	maxIdleConns    = 5
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
	pingTimeout     = 10 * time.Second
)

// Open connects to the database at url (a postgres:// URL or a lib/pq key=value
// string) and pings it, so that a wrong URL or an unreachable server fails at
// startup with one clear error instead of on a job's first query. The returned
// error never contains the URL's password.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	where := RedactURL(url)
	dbx, err := sqlx.Open(DriverName, url)
	if err != nil {
		return nil, fmt.Errorf("db: unable to open %s: %w", where, redactErr(err, url))
	}
	dbx.SetMaxOpenConns(maxOpenConns)
	dbx.SetMaxIdleConns(maxIdleConns)
	dbx.SetConnMaxLifetime(connMaxLifetime)
	dbx.SetConnMaxIdleTime(connMaxIdleTime)

	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := dbx.PingContext(pingCtx); err != nil {
		closeErr := dbx.Close()
		return nil, fmt.Errorf("db: unable to connect to %s: %w", where, redactErr(errors.Join(err, closeErr), url))
	}
	return dbx, nil
}

const redacted = "xxxxx"

var (
	// password=... in a key=value connection string, quoted or not.
	kvPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)
	// user:password@ in a URL that net/url could not parse.
	urlPassword = regexp.MustCompile(`(://[^:/?#@\s]*:)[^@\s]*@`)
)

// RedactURL returns the connection string with any password replaced by
// "xxxxx", so that URLs can go into logs and error messages without leaking the
// database credentials. It handles postgres:// URLs (user info and a
// password= query parameter), key=value strings, and malformed URLs.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
		q := u.Query()
		for k := range q {
			if strings.EqualFold(k, "password") {
				q[k] = []string{redacted}
				u.RawQuery = q.Encode()
			}
		}
		return u.String()
	}
	s = urlPassword.ReplaceAllString(s, "${1}"+redacted+"@")
	return kvPassword.ReplaceAllString(s, "${1}"+redacted)
}

// passwords returns every spelling of the password in connection string s
// that an error message might quote: raw, percent-decoded and key=value.
func passwords(s string) []string {
	var out []string
	add := func(p string) {
		if p != "" && p != redacted {
			out = append(out, p)
		}
	}
	if u, err := url.Parse(s); err == nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
		for k, v := range u.Query() {
			if strings.EqualFold(k, "password") {
				for _, p := range v {
					add(p)
				}
			}
		}
	}
	for _, m := range urlPassword.FindAllStringSubmatch(s, -1) {
		raw := strings.TrimSuffix(strings.TrimPrefix(m[0], m[1]), "@")
		add(raw)
		if dec, err := url.PathUnescape(raw); err == nil {
			add(dec)
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(s, -1) {
		add(m[2])
		add(strings.Trim(m[2], "'"))
	}
	return out
}

// redactErr makes sure err's text does not contain the password of connStr.
// A driver error that does quote it (net/url quotes the whole URL when it
// cannot parse it) is flattened to its redacted text, dropping the chain, so
// that no caller can unwrap its way back to the password.
func redactErr(err error, connStr string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	leaked := false
	for _, p := range passwords(connStr) {
		if strings.Contains(msg, p) {
			msg = strings.ReplaceAll(msg, p, redacted)
			leaked = true
		}
	}
	if !leaked {
		return err
	}
	return errors.New(msg)
}
