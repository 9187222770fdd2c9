package ledger

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// ErrSyncRunning is returned by LockOutSyncs while a sync holds the sync lock.
var ErrSyncRunning = errors.New("ledger: a sync is running")

// syncLockKey is the session advisory lock that syncs share and LockOutSyncs takes alone:
// "nordsync" in ASCII.
const syncLockKey int64 = 0x6e6f726473796e63

// SyncLock is taken by every sync run, shared (any number of syncs run at once), so that
// LockOutSyncs can tell that none is running. It waits while LockOutSyncs holds the lock
// (a few seconds). The lock lives in a session of its own: a process that dies releases
// it with its connection. release ends it.
func (s *Store) SyncLock(ctx context.Context) (release func() error, err error) {
	return s.advisoryLock(ctx, false, `SELECT pg_advisory_lock_shared($1)`, `SELECT pg_advisory_unlock_shared($1)`, "sync")
}

// LockOutSyncs takes the sync lock alone, so that no sync books anything until release:
// what reads the ledger and the API to book from their difference needs both to stand
// still. It does not wait: while a sync runs it returns ErrSyncRunning.
func (s *Store) LockOutSyncs(ctx context.Context) (release func() error, err error) {
	return s.advisoryLock(ctx, true, `SELECT pg_try_advisory_lock($1)`, `SELECT pg_advisory_unlock($1)`, "exclusive sync")
}

// advisoryLock runs lock on a connection of its own (when try, lock selects whether it got
// the lock; otherwise it waits for it) and returns what runs unlock on it and gives it back.
func (s *Store) advisoryLock(ctx context.Context, try bool, lock, unlock, what string) (func() error, error) {
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to get a connection for the %s lock: %w", what, err)
	}
	got := true
	if try {
		err = conn.QueryRowxContext(ctx, lock, syncLockKey).Scan(&got)
	} else {
		_, err = conn.ExecContext(ctx, lock, syncLockKey)
	}
	if err != nil {
		// A lock wait cut short by the context may still have been granted: the session
		// must end so that the lock goes with it.
		return nil, errors.Join(fmt.Errorf("ledger: unable to take the %s lock: %w", what, err), closeBad(conn))
	}
	if !got {
		return nil, errors.Join(ErrSyncRunning, conn.Close())
	}
	return func() error {
		// A fresh context: the caller's may be cancelled, and the lock must go either way.
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, unlock, syncLockKey); err != nil {
			return errors.Join(fmt.Errorf("ledger: unable to release the %s lock, closing its connection: %w", what, err), closeBad(conn))
		}
		return conn.Close()
	}, nil
}

// closeBad closes a connection without giving its session back to the pool, so that any
// session lock it holds goes with it.
func closeBad(conn *sqlx.Conn) error {
	rawErr := conn.Raw(func(any) error { return driver.ErrBadConn })
	if errors.Is(rawErr, driver.ErrBadConn) {
		rawErr = nil
	}
	return errors.Join(rawErr, conn.Close())
}
