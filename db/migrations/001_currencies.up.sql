-- Currencies as Nord PAY describes them (GET /currencies): what each token is,
-- on which network, and the limits and fees that payouts are checked against.
-- Amounts are NUMERIC: a token can have up to 30 decimals, more than a float holds.
CREATE TABLE currencies (
    name                text        PRIMARY KEY,
    token               text        NOT NULL DEFAULT '',
    network             text        NOT NULL DEFAULT '',
    contract            text        NOT NULL DEFAULT '',
    decimals            int         NOT NULL,
    confirmations       int         NOT NULL DEFAULT 0,
    network_fee         numeric     NOT NULL DEFAULT 0,
    min_deposit         numeric     NOT NULL DEFAULT 0,
    min_withdraw        numeric     NOT NULL DEFAULT 0,
    is_deposit_enabled  boolean     NOT NULL DEFAULT true,
    is_withdraw_enabled boolean     NOT NULL DEFAULT true,
    -- USD rate, informational; NULL when Nord PAY did not quote one.
    rate                numeric,
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT currencies_decimals_range CHECK (decimals BETWEEN 0 AND 30),
    CONSTRAINT currencies_confirmations_nonnegative CHECK (confirmations >= 0),
    CONSTRAINT currencies_network_fee_nonnegative CHECK (network_fee >= 0),
    CONSTRAINT currencies_min_deposit_nonnegative CHECK (min_deposit >= 0),
    CONSTRAINT currencies_min_withdraw_nonnegative CHECK (min_withdraw >= 0)
);
