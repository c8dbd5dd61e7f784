// Command baregin is the benchmark's yardstick: the least a Gin server can
// do, on the same gin version as the service. go run ./bench starts it and
// loads it in the same run as the service, and every ratio is to it.
//
//	baregin 127.0.0.1:8080   # GET /ping answers "pong"
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: baregin host:port")
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/ping", func(c *gin.Context) { c.String(http.StatusOK, "pong") })
	log.Fatal(r.Run(os.Args[1]))
}
