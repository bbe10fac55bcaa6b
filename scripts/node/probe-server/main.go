// probe-server: the smallest real HTTP workload for the node tests (scripts/start-node.sh):
// /healthz answers 200 once the server listens (a readiness probe), / says which pod answered.
// A static binary in a one-file image, since no image registry is reachable here.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := ":" + getenv("PORT", "8080")
	host, _ := os.Hostname()
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s %s uid=%d\n", host, os.Getenv("VERSION"), os.Getuid())
	})
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}

func getenv(key, fallback string) string {
	if value := os.Getenv(key); value != "" {
		return value
	}
	return fallback
}
