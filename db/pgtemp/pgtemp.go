// Package pgtemp starts and stops a throwaway PostgreSQL cluster, so that
// `nordpay-jobs demo` and `make test` need only the PostgreSQL binaries, not a
// running server, credentials or Docker.
//
// The cluster is tuned for speed over durability (fsync off) and listens only
// on 127.0.0.1 with trust authentication: never keep data in it.
package pgtemp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// Dir is the parent of the cluster's temporary directory. Defaults to
	// os.TempDir(). When running as root the server runs as the postgres
	// user, which must be able to reach Dir.
	Dir string
	// Log receives progress lines, one Write call per line, without a
	// prefix so that callers can add their own. Defaults to discarding them.
	Log io.Writer
	// Settings are extra server settings (postgresql.conf names and values),
	// applied after the defaults so that they can override them. The port,
	// listen_addresses and unix_socket_directories belong to pgtemp.
	Settings map[string]string
}

// Cluster is a running throwaway PostgreSQL server; Stop it when done, or its
// processes and files outlive the program.
type Cluster struct {
	dir        string // everything lives here: data/, sock/, server.log
	port       int
	binDir     string
	asPostgres bool // euid 0: run PostgreSQL tools through runuser
	runuser    string
	log        io.Writer

	mu      sync.Mutex
	stopped bool
}

// Server settings that trade durability for speed, and keep the server
// private to this machine.
var defaultSettings = [][2]string{
	{"fsync", "off"},
	{"synchronous_commit", "off"},
	{"full_page_writes", "off"},
	{"listen_addresses", "127.0.0.1"},
}

var reservedSettings = []string{"port", "listen_addresses", "unix_socket_directories"}

var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

const (
	startAttempts = 3 // a port picked free can be taken before the server binds it
	waitSeconds   = "60"
	maxSocketPath = 107 // sun_path holds 108 bytes, one for the NUL
)

// Start creates a new cluster in a fresh temporary directory, starts it on a
// free port and waits until it accepts connections. On error nothing is left
// behind, and the error carries the tail of the tool's or the server's log.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	for name := range opts.Settings {
		if !settingName.MatchString(name) {
			return nil, fmt.Errorf("pgtemp: invalid setting name %q", name)
		}
		if slices.Contains(reservedSettings, strings.ToLower(name)) {
			return nil, fmt.Errorf("pgtemp: setting %q is chosen by pgtemp and cannot be overridden", name)
		}
	}
	c := &Cluster{log: opts.Log}
	if c.log == nil {
		c.log = io.Discard
	}
	var err error
	if c.binDir, err = findBinDir(); err != nil {
		return nil, err
	}
	var uid, gid int
	if os.Geteuid() == 0 {
		c.asPostgres = true
		if uid, gid, err = postgresUser(); err != nil {
			return nil, err
		}
		if c.runuser, err = findRunuser(); err != nil {
			return nil, err
		}
	}

	parent := opts.Dir
	if parent == "" {
		parent = os.TempDir()
	}
	if c.dir, err = os.MkdirTemp(parent, "pgtemp-"); err != nil {
		return nil, fmt.Errorf("pgtemp: unable to create a temporary directory: %w", err)
	}
	if err := c.start(ctx, opts, uid, gid); err != nil {
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, opts Options, uid, gid int) error {
	began := time.Now()
	sock := filepath.Join(c.dir, "sock")
	if n := len(sock) + len("/.s.PGSQL.65535"); n > maxSocketPath {
		return fmt.Errorf("pgtemp: socket path under %s would be %d bytes, over the limit of %d; use a shorter Options.Dir", c.dir, n, maxSocketPath)
	}
	if err := os.Mkdir(sock, 0o700); err != nil {
		return fmt.Errorf("pgtemp: unable to create the socket directory: %w", err)
	}
	if c.asPostgres {
		for _, p := range []string{c.dir, sock} {
			if err := os.Chown(p, uid, gid); err != nil {
				return fmt.Errorf("pgtemp: unable to hand %s to the postgres user: %w", p, err)
			}
		}
	}

	c.logf("initdb %s (%s)", c.dataDir(), c.runAs())
	out, err := c.command(ctx, "initdb",
		"-D", c.dataDir(), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync",
	).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("pgtemp: initdb failed: %v\n%s", err, tail(out))
		if c.asPostgres && bytes.Contains(out, []byte("ermission denied")) {
			msg += fmt.Sprintf("\n(the postgres user must be able to reach %s: every parent directory must be searchable by others)", c.dir)
		}
		return errors.New(msg)
	}

	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			return err
		}
		args := []string{
			"start", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", waitSeconds,
			"-o", serverOptions(c.port, sock, opts.Settings),
		}
		out, err := c.command(ctx, "pg_ctl", args...).CombinedOutput()
		if err == nil {
			break
		}
		serverLog, _ := os.ReadFile(c.logFile())
		if attempt < startAttempts && bytes.Contains(serverLog, []byte("could not bind")) {
			c.logf("port %d was taken, trying another", c.port)
			continue
		}
		return fmt.Errorf("pgtemp: pg_ctl start failed: %v\n%s\nserver log:\n%s",
			err, tail(out), tail(serverLog))
	}

	// pg_ctl -w already waited for the server to report itself ready; check
	// that the TCP port answers too, since that is what clients use.
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", c.addr())
	if err != nil {
		serverLog, _ := os.ReadFile(c.logFile())
		return fmt.Errorf("pgtemp: server started but %s does not answer: %w\nserver log:\n%s", c.addr(), err, tail(serverLog))
	}
	if err := conn.Close(); err != nil {
		return fmt.Errorf("pgtemp: closing the readiness probe: %w", err)
	}
	version, _ := os.ReadFile(filepath.Join(c.dataDir(), "PG_VERSION"))
	c.logf("PostgreSQL %s ready at %s in %s", bytes.TrimSpace(version), c.addr(), time.Since(began).Round(10*time.Millisecond))
	return nil
}

// URL returns the connection URL of the cluster's postgres database, for the
// postgres superuser with no password (the cluster trusts local connections).
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", c.addr())
}

// Dir returns the cluster's temporary directory (data/, sock/ and server.log),
// so that a failing caller can point people at the server log before Stop
// removes it.
func (c *Cluster) Dir() string {
	return c.dir
}

// Stop shuts the server down at once (no checkpoint: the data is thrown away)
// and removes its directory. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true

	var errs []error
	pidFile := filepath.Join(c.dataDir(), "postmaster.pid")
	if exists(pidFile) {
		out, err := c.command(context.Background(),
			"pg_ctl", "stop", "-D", c.dataDir(), "-m", "immediate", "-w", "-t", waitSeconds,
		).CombinedOutput()
		if err != nil && exists(pidFile) {
			// pg_ctl could not stop it; signal the postmaster ourselves
			// rather than delete the files from under a live server.
			if killErr := quitPostmaster(pidFile); killErr != nil {
				errs = append(errs, fmt.Errorf("pgtemp: pg_ctl stop failed: %v: %s; %w",
					err, bytes.TrimSpace(out), killErr))
			}
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("pgtemp: unable to remove %s: %w", c.dir, err))
	} else {
		c.logf("stopped; removed %s", c.dir)
	}
	return errors.Join(errs...)
}

// quitPostmaster sends SIGQUIT (immediate shutdown) to the postmaster named
// in pidFile and waits a few seconds for it to exit.
func quitPostmaster(pidFile string) error {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("reading %s: %w", pidFile, err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return fmt.Errorf("no pid in %s", pidFile)
	}
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("signalling postmaster %d: %w", pid, err)
	}
	for range 50 {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("postmaster %d did not exit after SIGQUIT", pid)
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.dir, "server.log") }
func (c *Cluster) addr() string    { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

func (c *Cluster) runAs() string {
	if c.asPostgres {
		return "as user postgres"
	}
	return "as the current user"
}

func (c *Cluster) logf(format string, args ...any) {
	// Progress lines are best effort: a broken log writer must not stop the cluster.
	_, _ = fmt.Fprintf(c.log, format+"\n", args...)
}

// command runs a PostgreSQL tool, through runuser when we are root because
// initdb and postgres refuse to run as root.
func (c *Cluster) command(ctx context.Context, tool string, args ...string) *exec.Cmd {
	path := filepath.Join(c.binDir, tool)
	var cmd *exec.Cmd
	if c.asPostgres {
		cmd = exec.CommandContext(ctx, c.runuser, append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	// The postgres user may not be able to read the caller's working
	// directory, and PostgreSQL tools fail when they cannot.
	cmd.Dir = c.dir
	// English messages, so that "could not bind" can be recognised.
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// Own process group, so that cancelling ctx kills runuser and the tool
	// under it, not only runuser, and so a terminal's ^C reaches us, not them.
	// The server itself is safe: pg_ctl starts it in a session of its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// serverOptions builds pg_ctl's -o string. pg_ctl hands it to /bin/sh, so
// every value is shell-quoted.
func serverOptions(port int, sock string, settings map[string]string) string {
	opts := []string{"-p", strconv.Itoa(port), "-k", shellQuote(sock)}
	for _, kv := range defaultSettings {
		opts = append(opts, "-c", shellQuote(kv[0]+"="+kv[1]))
	}
	names := make([]string, 0, len(settings))
	for name := range settings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		opts = append(opts, "-c", shellQuote(name+"="+settings[name]))
	}
	return strings.Join(opts, " ")
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// findBinDir returns the directory holding initdb and pg_ctl: the one of the
// initdb on PATH, else the highest version under /usr/lib/postgresql (where
// Debian puts them, off PATH).
func findBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if dir := filepath.Dir(p); exists(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin") // the pattern is valid
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	for _, dir := range dirs {
		if exists(filepath.Join(dir, "initdb")) && exists(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", errors.New("pgtemp: PostgreSQL not found: no initdb and pg_ctl on PATH nor in /usr/lib/postgresql/*/bin " +
		"(on Debian run scripts/ensure-postgres.sh, or apt-get install postgresql)")
}

// compareVersions orders "9.6" < "10" < "15" numerically.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

func postgresUser() (uid, gid int, err error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, fmt.Errorf("pgtemp: running as root needs a postgres user to run the server as (initdb refuses root): %w", err)
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, fmt.Errorf("pgtemp: postgres user has a non-numeric uid %q", u.Uid)
	}
	gid, err = strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, fmt.Errorf("pgtemp: postgres user has a non-numeric gid %q", u.Gid)
	}
	return uid, gid, nil
}

func findRunuser() (string, error) {
	if p, err := exec.LookPath("runuser"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/runuser", "/sbin/runuser"} {
		if exists(p) {
			return p, nil
		}
	}
	return "", errors.New("pgtemp: running as root needs runuser (util-linux) to start PostgreSQL as the postgres user")
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtemp: unable to find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pgtemp: unable to release port %d: %w", port, err)
	}
	return port, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// tail returns the last lines of a log, enough to show why something failed.
func tail(b []byte) string {
	const maxLines = 20
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}
