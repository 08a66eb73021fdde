// Benchmark reference, not a gateway: the same least stdio-to-HTTP bridge as minimal-proxy.ts, in Go (compiled,
// multithreaded), to show what the process-to-process hops cost when the bridge itself costs next to nothing.
//
//	go build -o minimal-proxy minimal-proxy.go && ./minimal-proxy PORT -- COMMAND ARGS...
package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
)

func main() {
	port, command := os.Args[1], os.Args[3:]
	child := exec.Command(command[0], command[1:]...)
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		panic(err)
	}
	var mu sync.Mutex
	pending := map[int64]chan map[string]any{}
	var nextID int64
	go func() {
		lines := bufio.NewScanner(stdout)
		lines.Buffer(make([]byte, 1<<20), 1<<24)
		for lines.Scan() {
			var message map[string]any
			if json.Unmarshal(lines.Bytes(), &message) != nil {
				continue
			}
			id, ok := message["id"].(float64)
			if _, isRequest := message["method"]; !ok || isRequest {
				continue
			}
			mu.Lock()
			answer := pending[int64(id)]
			delete(pending, int64(id))
			mu.Unlock()
			if answer != nil {
				answer <- message
			}
		}
		os.Exit(1)
	}()
	http.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || len(body) == 0 {
			return
		}
		var message map[string]any
		if json.Unmarshal(body, &message) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("mcp-session-id", "reference")
		clientID, hasID := message["id"]
		if !hasID {
			mu.Lock()
			stdin.Write(append(body, '\n'))
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			return
		}
		answer := make(chan map[string]any, 1)
		mu.Lock()
		nextID++
		pending[nextID] = answer
		message["id"] = nextID
		line, _ := json.Marshal(message)
		stdin.Write(append(line, '\n'))
		mu.Unlock()
		reply := <-answer
		reply["id"] = clientID
		text, _ := json.Marshal(reply)
		w.Header().Set("content-type", "application/json")
		w.Write(text)
	})
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		panic(err)
	}
}
