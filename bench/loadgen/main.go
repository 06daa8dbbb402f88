// loadgen: a closed-loop gRPC load generator for the saturation runs. ghz decodes every answer into a dynamic
// protobuf message and keeps every result: about 90 µs of its CPU per call for the raw floor's empty answer and
// 220 µs for tenantgate's, so on its one core it, not the server, set the rate (bench/README.md). This sends the
// mix's pre-encoded CheckRequests over plain HTTP/2 (h2c) and reads only the grpc-status of each answer.
// With -rps it is an open-loop generator instead: a call starts every 1/rps s, whether or not the earlier ones have
// answered (ghz --async --rps does the same, but its decoding of each answer lands in the latency it reports).
//
//	loadgen -addr 127.0.0.1:9191 -data ghz-requests.bin [-conns 2] [-concurrency 20] [-duration 5s | -n 4000]
//	loadgen -addr 127.0.0.1:9191 -data ghz-requests.bin -rps 1000 -duration 5s
//
// Prints one JSON object: count, errors (a grpc-status other than 0, or a failed call), rps, p50_ms, p95_ms,
// p99_ms, max_ms; with -rps also late (calls started more than 1 ms after their time).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

const path = "/envoy.service.auth.v3.Authorization/Check"

func main() {
	addr := flag.String("addr", "127.0.0.1:9191", "server host:port")
	data := flag.String("data", "", "count-delimited binary CheckRequests (as ghz -B takes them)")
	conns := flag.Int("conns", 2, "HTTP/2 connections")
	concurrency := flag.Int("concurrency", 20, "calls in flight")
	duration := flag.Duration("duration", 0, "how long to run")
	total := flag.Int64("n", 0, "how many calls (instead of -duration)")
	rate := flag.Float64("rps", 0, "open loop: calls started per second (with -duration)")
	flag.Parse()
	frames, err := readFrames(*data)
	if err != nil || len(frames) == 0 {
		fail(fmt.Errorf("reading %s: %v (%d messages)", *data, err, len(frames)))
	}
	clients := make([]*http2.ClientConn, *conns)
	for i := range clients {
		if clients[i], err = dial(*addr); err != nil {
			fail(err)
		}
	}
	if *rate > 0 {
		openLoop(clients, *addr, frames, *rate, *duration)
		return
	}
	var next, errors atomic.Int64
	stop := time.Now().Add(*duration)
	lat := make([][]time.Duration, *concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cc := clients[w%len(clients)]
			for {
				i := next.Add(1) - 1
				if (*total > 0 && i >= *total) || (*total == 0 && time.Now().After(stop)) {
					return
				}
				t0 := time.Now()
				if !call(cc, *addr, frames[i%int64(len(frames))]) {
					errors.Add(1)
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	report(all, errors.Load(), time.Since(start), nil)
}

// openLoop starts a call every 1/rate s for the duration, each on its own goroutine, connections taken in turn.
func openLoop(clients []*http2.ClientConn, addr string, frames [][]byte, rate float64, duration time.Duration) {
	n := int(rate * duration.Seconds())
	lat := make([]time.Duration, n)
	var errors, late atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			if t0.Sub(at) > time.Millisecond {
				late.Add(1)
			}
			if !call(clients[i%len(clients)], addr, frames[i%len(frames)]) {
				errors.Add(1)
			}
			lat[i] = time.Since(t0)
		}(i)
	}
	wg.Wait()
	l := late.Load()
	report(lat, errors.Load(), time.Since(start), &l)
}

// report prints the run's figures as one JSON object.
func report(all []time.Duration, errors int64, elapsed time.Duration, late *int64) {
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))]) / 1e6
	}
	fig := map[string]any{"count": len(all), "errors": errors, "rps": float64(len(all)) / elapsed.Seconds(), "p50_ms": q(0.5), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": q(1)}
	if late != nil {
		fig["late"] = *late
	}
	out, _ := json.Marshal(fig)
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}

// readFrames reads varint-length-delimited messages and frames each as a gRPC message (uncompressed).
func readFrames(file string) ([][]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var frames [][]byte
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, fmt.Errorf("a truncated message at byte %d", len(b))
		}
		f := make([]byte, 5+n)
		binary.BigEndian.PutUint32(f[1:5], uint32(n))
		copy(f[5:], b[k:k+int(n)])
		frames = append(frames, f)
		b = b[k+int(n):]
	}
	return frames, nil
}

func dial(addr string) (*http2.ClientConn, error) {
	t := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return t.NewClientConn(conn)
}

// call sends one request and reads the answer to its end; true when the call ended with grpc-status 0.
func call(cc *http2.ClientConn, addr string, frame []byte) bool {
	req, err := http.NewRequest("POST", "http://"+addr+path, bytes.NewReader(frame))
	if err != nil {
		return false
	}
	req.Header.Set("content-type", "application/grpc")
	req.Header.Set("te", "trailers")
	resp, err := cc.RoundTrip(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false
	}
	status := resp.Trailer.Get("grpc-status")
	if status == "" {
		status = resp.Header.Get("grpc-status") // a trailers-only answer
	}
	return resp.StatusCode == 200 && status == "0"
}
