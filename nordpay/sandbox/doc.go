// Package sandbox is an in-process fake of the Nord PAY API: an http.Handler with state, a
// seeded generator of invoice and wallet transactions, and fault injection. It serves exactly
// the shapes of shared/nordpay-api/ASSUMPTIONS.md, so that the client, the sync job, mass
// payouts, `nordpay-jobs demo` and `nordpay-jobs sandbox` run without the real API.
//
// # Generated transactions
//
// Each stream (invoices, wallets) keeps nothing per transaction. Transaction i is a pure
// function of (Seed, stream, i): created_at = Start + (End-Start)*i/Count, so a window is two
// binary searches on i; amounts, fees, hashes, labels and spellings come from splitmix64
// hashes of i and are computed in 128-bit fixed point (10^-18 units), so encoding allocates
// nothing per transaction. Ids are offset + (a*i+b) mod 2^k with a odd: unique, not
// sequential, invertible (GET /invoice/{id} finds a generated invoice without a table). Both
// streams draw ids from the same range, so they share id values: a ledger must key on
// (source, id).
//
// # Visibility and balances
//
// A transaction is served once created_at <= now and, for a late one, created_at + its delay
// <= now (the sandbox clock is Options.Now). GET /balance/ applies the same rule: initial
// balances, plus amount - network_fee - service_fee of every served paid transaction
// (generated and added), minus confirmed withdrawals. The generated part is a running sum
// cached by index up to now - LateDelay (past that every transaction is visible), advanced
// as the clock moves forward and recomputed if it moves back; only the last LateDelay of
// transactions is examined on each call.
//
// # Faults
//
// Every request is counted (Requests), then gets the next scripted fault of its route
// (InjectFault), else a random one drawn from a source seeded by Seed. Faults that close the
// connection panic with http.ErrAbortHandler, which net/http turns into a dropped
// connection: serve the sandbox through an http.Server (httptest.NewServer does). Note that
// Go's http.Transport retries an idempotent request (GET) once by itself when a reused
// keep-alive connection is dropped before any answer; a client test that needs to see a
// dropped GET disables keep-alives.
package sandbox
