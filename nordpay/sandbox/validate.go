package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/nordpay/nordpay-jobs/nordpay"
	"github.com/shopspring/decimal"
)

// Request bodies are validated the way FastAPI with pydantic v2 does: every problem of a
// body is reported in one 422 answer, {"detail": [{"type", "loc", "msg", "input", "ctx"}]}.

// vdetail is one item of a 422 answer, in pydantic v2's field order.
type vdetail struct {
	Type  string          `json:"type"`
	Loc   []any           `json:"loc"`
	Msg   string          `json:"msg"`
	Input json.RawMessage `json:"input"`
	Ctx   json.RawMessage `json:"ctx,omitempty"`
}

func jsonValue(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

func ctxJSON(key string, v any) json.RawMessage {
	return jsonValue(map[string]any{key: v})
}

func writeValidation(w http.ResponseWriter, errs []vdetail) {
	b, err := json.Marshal(struct {
		Detail []vdetail `json:"detail"`
	}{errs})
	if err != nil {
		writeDetail(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeJSON(w, http.StatusUnprocessableEntity, b)
}

func loc(parts ...any) []any { return parts }

func appendLoc(base []any, parts ...any) []any {
	out := make([]any, 0, len(base)+len(parts))
	return append(append(out, base...), parts...)
}

// object is a decoded JSON object with its raw text (the "input" of a missing field).
type object struct {
	raw    json.RawMessage
	fields map[string]json.RawMessage
}

// maxBody bounds a request body; the API's bodies are small.
const maxBody = 8 << 20

// readBody decodes the request body as a JSON object, or answers 422 (json_invalid, missing
// body, not an object) and returns false.
func readBody(c *call) (*object, bool) {
	raw, err := io.ReadAll(io.LimitReader(c.r.Body, maxBody))
	if err != nil {
		writeDetail(c.w, http.StatusBadRequest, "There was an error parsing the body")
		return nil, false
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		writeValidation(c.w, []vdetail{{Type: "missing", Loc: loc("body"), Msg: "Field required", Input: json.RawMessage("null")}})
		return nil, false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		// Python's json reports the index of the offending character (the length at the end
		// of the input); Go's offset is one past it.
		pos := int64(len(raw))
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset < int64(len(raw)) {
			pos = max(se.Offset-1, 0)
		}
		writeValidation(c.w, []vdetail{{
			Type: "json_invalid", Loc: loc("body", pos), Msg: "JSON decode error",
			Input: json.RawMessage("{}"), Ctx: ctxJSON("error", "Expecting value"),
		}})
		return nil, false
	}
	o, d := asObject(trimmed, loc("body"))
	if d != nil {
		writeValidation(c.w, []vdetail{*d})
		return nil, false
	}
	return o, true
}

func asObject(raw json.RawMessage, at []any) (*object, *vdetail) {
	var fields map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return nil, &vdetail{
			Type: "model_attributes_type", Loc: at,
			Msg:   "Input should be a valid dictionary or object to extract fields from",
			Input: raw,
		}
	}
	return &object{raw: raw, fields: fields}, nil
}

// checker collects the problems of one body.
type checker struct{ errs []vdetail }

func (ck *checker) add(d vdetail) { ck.errs = append(ck.errs, d) }

// get returns a field; a missing required field is reported, a missing or null optional one
// is absent.
func (ck *checker) get(o *object, at []any, name string, required bool) (json.RawMessage, bool) {
	v, ok := o.fields[name]
	if !ok {
		if required {
			ck.add(vdetail{Type: "missing", Loc: appendLoc(at, name), Msg: "Field required", Input: o.raw})
		}
		return nil, false
	}
	if !required && string(v) == "null" {
		return nil, false
	}
	return v, true
}

func (ck *checker) str(v json.RawMessage, at []any) (string, bool) {
	var s string
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
		ck.add(vdetail{Type: "string_type", Loc: at, Msg: "Input should be a valid string", Input: v})
		return "", false
	}
	return s, true
}

// enumText renders pydantic's list of choices: 'A', 'B' or 'C'.
func enumText(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func (ck *checker) enum(v json.RawMessage, at []any, names []string) (string, bool) {
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		for _, n := range names {
			if n == s {
				return s, true
			}
		}
	}
	exp := enumText(names)
	ck.add(vdetail{Type: "enum", Loc: at, Msg: "Input should be " + exp, Input: v, Ctx: ctxJSON("expected", exp)})
	return "", false
}

// positiveDecimal reads a decimal (JSON number or numeric string, exactly) that must be > 0.
func (ck *checker) positiveDecimal(v json.RawMessage, at []any) (decimal.Decimal, bool) {
	var text string
	switch {
	case len(v) > 0 && v[0] == '"':
		if json.Unmarshal(v, &text) != nil {
			text = "?"
		}
	case len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')):
		text = string(v)
	default:
		ck.add(vdetail{Type: "decimal_type", Loc: at, Msg: "Decimal input should be an integer, float, string or Decimal object", Input: v})
		return decimal.Decimal{}, false
	}
	d, err := nordpay.ParseAmount(text)
	if err != nil {
		ck.add(vdetail{Type: "decimal_parsing", Loc: at, Msg: "Input should be a valid decimal", Input: v})
		return decimal.Decimal{}, false
	}
	if !d.IsPositive() {
		ck.add(vdetail{Type: "greater_than", Loc: at, Msg: "Input should be greater than 0", Input: v, Ctx: ctxJSON("gt", 0)})
		return decimal.Decimal{}, false
	}
	return d, true
}

func (ck *checker) integer(v json.RawMessage, at []any) (int64, bool) {
	switch {
	case len(v) > 0 && v[0] == '"':
		var s string
		_ = json.Unmarshal(v, &s)
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			ck.add(vdetail{Type: "int_parsing", Loc: at, Msg: "Input should be a valid integer, unable to parse string as an integer", Input: v})
			return 0, false
		}
		return n, true
	case len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')):
		d, err := decimal.NewFromString(string(v))
		if err != nil {
			break
		}
		if !d.IsInteger() {
			ck.add(vdetail{Type: "int_from_float", Loc: at, Msg: "Input should be a valid integer, got a number with a fractional part", Input: v})
			return 0, false
		}
		return d.IntPart(), true
	}
	ck.add(vdetail{Type: "int_type", Loc: at, Msg: "Input should be a valid integer", Input: v})
	return 0, false
}

func (ck *checker) list(v json.RawMessage, at []any, minLen int) ([]json.RawMessage, bool) {
	var items []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &items) != nil {
		ck.add(vdetail{Type: "list_type", Loc: at, Msg: "Input should be a valid list", Input: v})
		return nil, false
	}
	if len(items) < minLen {
		ck.add(vdetail{
			Type: "too_short", Loc: at,
			Msg:   "List should have at least " + strconv.Itoa(minLen) + " item after validation, not " + strconv.Itoa(len(items)),
			Input: v,
			Ctx:   json.RawMessage(`{"field_type":"List","min_length":` + strconv.Itoa(minLen) + `,"actual_length":` + strconv.Itoa(len(items)) + `}`),
		})
		return nil, false
	}
	return items, true
}

// nonEmpty reports an empty string as pydantic's string_too_short (min_length 1).
func (ck *checker) nonEmpty(s string, v json.RawMessage, at []any) bool {
	if strings.TrimSpace(s) == "" {
		ck.add(vdetail{Type: "string_too_short", Loc: at, Msg: "String should have at least 1 character", Input: v, Ctx: ctxJSON("min_length", 1)})
		return false
	}
	return true
}

func (ck *checker) answer(c *call) bool {
	if len(ck.errs) == 0 {
		return true
	}
	writeValidation(c.w, ck.errs)
	return false
}
