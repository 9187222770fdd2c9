// Command nordpay-jobs keeps a merchant's Nord PAY books: it syncs transactions into a
// double-entry ledger in PostgreSQL, writes statements and reconciliation reports, and pays
// people in bulk from approved spreadsheets. Run `nordpay-jobs --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv)
	stop()
	os.Exit(code)
}
