// opa-standin: the hot path of the OPA-Envoy plugin (ext_authz v3 gRPC, OPA's Go evaluator), for the bench when
// the plugin itself cannot be installed. Like the plugin's envoyauth package it turns each CheckRequest into
// input with protojson plus parsed_path / parsed_query / parsed_body, evaluates a query prepared once
// (rego.PrepareForEval) against an in-memory store holding the data file, and answers with the decision's
// allowed / http_status / body / headers / request_headers_to_remove. It is not the plugin: no decision logs,
// no bundle plugin, no status API; it measures the same evaluator on the same kind of input.
//
//	opa-standin -addr 127.0.0.1:9191 -policy dir -data data.json -query data.tenantgate_bench.allow
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/url"
	"os"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type server struct {
	authv3.UnimplementedAuthorizationServer
	query rego.PreparedEvalQuery
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9191", "listen address")
	dir := flag.String("policy", ".", "policy directory (*_test.rego ignored)")
	dataFile := flag.String("data", "", "data JSON file")
	query := flag.String("query", "data.tenantgate_bench.allow", "decision query")
	flag.Parse()

	// No -data (the compatibility policies): an empty document; a nil map is not a store root.
	data := map[string]interface{}{}
	if *dataFile != "" {
		b, err := os.ReadFile(*dataFile)
		if err != nil {
			log.Fatal(err)
		}
		if err := json.Unmarshal(b, &data); err != nil {
			log.Fatal(err)
		}
	}
	entries, err := os.ReadDir(*dir)
	if err != nil {
		log.Fatal(err)
	}
	opts := []func(*rego.Rego){rego.Query(*query), rego.Store(inmem.NewFromObject(data))}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".rego") && !strings.HasSuffix(e.Name(), "_test.rego") {
			src, err := os.ReadFile(*dir + "/" + e.Name())
			if err != nil {
				log.Fatal(err)
			}
			opts = append(opts, rego.Module(e.Name(), string(src)))
		}
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	authv3.RegisterAuthorizationServer(s, &server{query: pq})
	log.Printf("opa-standin serving on %s", *addr)
	log.Fatal(s.Serve(lis))
}

// toInput mirrors the plugin's RequestToInput: protojson, then the parsed path, query and body.
func toInput(req *authv3.CheckRequest) (ast.Value, error) {
	bs, err := protojson.Marshal(req)
	if err != nil {
		return nil, err
	}
	var input map[string]interface{}
	if err := json.Unmarshal(bs, &input); err != nil {
		return nil, err
	}
	http := req.GetAttributes().GetRequest().GetHttp()
	u, err := url.Parse(http.GetPath())
	if err != nil {
		return nil, err
	}
	segments := []interface{}{}
	for _, s := range strings.Split(strings.TrimLeft(u.Path, "/"), "/") {
		segments = append(segments, s)
	}
	query := map[string]interface{}{}
	for k, vs := range u.Query() {
		l := []interface{}{}
		for _, v := range vs {
			l = append(l, v)
		}
		query[k] = l
	}
	input["parsed_path"] = segments
	input["parsed_query"] = query
	var body interface{}
	if b := http.GetBody(); b != "" && strings.Contains(http.GetHeaders()["content-type"], "application/json") {
		_ = json.Unmarshal([]byte(b), &body)
	}
	input["parsed_body"] = body
	input["truncated_body"] = false
	return ast.InterfaceToValue(input)
}

func (s *server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	input, err := toInput(req)
	if err != nil {
		return deny(400, `{"error":"bad_request"}`, nil), nil
	}
	rs, err := s.query.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil || len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return deny(403, `{"error":"policy_error"}`, nil), nil
	}
	switch d := rs[0].Expressions[0].Value.(type) {
	case bool:
		if d {
			return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(code.Code_OK)}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}}, nil
		}
		return deny(403, "", nil), nil
	case map[string]interface{}:
		headers := headerOptions(d["headers"])
		if allowed, _ := d["allowed"].(bool); allowed {
			ok := &authv3.OkHttpResponse{Headers: headers}
			if rm, ok2 := d["request_headers_to_remove"].([]interface{}); ok2 {
				for _, h := range rm {
					if name, isStr := h.(string); isStr {
						ok.HeadersToRemove = append(ok.HeadersToRemove, name)
					}
				}
			}
			return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(code.Code_OK)}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok}}, nil
		}
		status := 403
		if n, isNum := d["http_status"].(json.Number); isNum {
			if v, err := n.Int64(); err == nil {
				status = int(v)
			}
		}
		body, _ := d["body"].(string)
		return deny(status, body, headers), nil
	}
	return deny(403, `{"error":"policy_error"}`, nil), nil
}

func headerOptions(v interface{}) []*corev3.HeaderValueOption {
	m, _ := v.(map[string]interface{})
	out := make([]*corev3.HeaderValueOption, 0, len(m))
	for k, val := range m {
		if s, ok := val.(string); ok {
			out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: s}, Append: wrapperspb.Bool(false)})
		}
	}
	return out
}

func deny(status int, body string, headers []*corev3.HeaderValueOption) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code.Code_PERMISSION_DENIED)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Body:    body,
			Headers: headers,
		}},
	}
}
