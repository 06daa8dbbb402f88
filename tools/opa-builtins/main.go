// OPA's own implementation of the builtins whose results are Go's structures (x509 certificates, the GraphQL
// and Rego ASTs, JSON Schema errors, text/template), built for WASI and called by tenantgate's WASM host
// (src/policy/opa-go). Calling OPA's code rather than rewriting it gives exactly `opa eval`'s answers.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o opa-builtins.wasm .   (scripts/setup.sh does)
package main

import (
	"context"
	"encoding/json"
	"runtime/debug"
	"strconv"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/util"
)

// Buffers handed to the host stay referenced here until it frees them (Go's collector does not move objects).
var held = map[uint32][]byte{}

//go:wasmexport tg_alloc
func tgAlloc(n uint32) uint32 {
	b := make([]byte, n+1)
	p := uint32(uintptr(unsafe.Pointer(&b[0])))
	held[p] = b
	return p
}

//go:wasmexport tg_free
func tgFree(p uint32) { delete(held, p) }

// tg_call runs builtin `name` on arguments given as a Rego array (sets included) at a time in nanoseconds. It
// answers one tag byte and its text: 'v' and the value as JSON, 'r' and the value in Rego (it holds a set),
// 'u' (undefined) or 'e' and the error; packed as address<<32 | length.
//
//go:wasmexport tg_call
func tgCall(namePtr, nameLen, argsPtr, argsLen uint32, nowNs int64) uint64 {
	out := call(string(view(namePtr, nameLen)), string(view(argsPtr, argsLen)), nowNs)
	p := tgAlloc(uint32(len(out)))
	copy(held[p], out)
	return uint64(p)<<32 | uint64(len(out))
}

func view(p, n uint32) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p))), n) }

func call(name, args string, nowNs int64) []byte {
	fn := topdown.GetBuiltin(name)
	if fn == nil {
		return failure("unknown builtin " + name)
	}
	v, err := parseArgs(args)
	if err != nil {
		return failure(err.Error())
	}
	arr, ok := v.(*ast.Array)
	if !ok {
		return failure("arguments must be an array")
	}
	operands := make([]*ast.Term, arr.Len())
	for i := range operands {
		operands[i] = arr.Elem(i)
	}
	var result *ast.Term
	bctx := topdown.BuiltinContext{
		Context: context.Background(),
		Time:    ast.NewTerm(ast.Number(strconv.FormatInt(nowNs, 10))),
	}
	if err := fn(bctx, operands, func(r *ast.Term) error { result = r; return nil }); err != nil {
		return failure(err.Error())
	}
	if result == nil {
		return []byte("u")
	}
	if hasSet(result.Value) {
		return []byte("r" + result.String())
	}
	out, err := ast.JSON(result.Value)
	if err != nil {
		return failure(err.Error())
	}
	b, err := json.Marshal(out)
	if err != nil {
		return failure(err.Error())
	}
	return append([]byte("v"), b...)
}

// parseArgs reads the arguments as JSON (fast), or with Rego's parser when they hold a set (not JSON).
func parseArgs(args string) (ast.Value, error) {
	var x any
	if err := util.UnmarshalJSON([]byte(args), &x); err == nil {
		return ast.InterfaceToValue(x)
	}
	t, err := ast.ParseTerm(args)
	if err != nil {
		return nil, err
	}
	return t.Value, nil
}

func hasSet(v ast.Value) bool {
	found := false
	ast.WalkTerms(v, func(t *ast.Term) bool {
		if _, ok := t.Value.(ast.Set); ok {
			found = true
		}
		return found
	})
	return found
}

func failure(msg string) []byte { return []byte("e" + msg) }

// A WASM memory never shrinks: a soft limit keeps the collector from letting the heap grow far past what is live.
func init() { debug.SetMemoryLimit(48 << 20) }

func main() {}
