/* A Go-like tier-1 stand-in: one static binary, installed and run the way go_service installs
 * and runs a Go daemon (its own file under /opt/smallvps, its own user, go_service's unit).
 * Answers HTTP/1.0 on 127.0.0.1:$SMALLVPS_GO_PORT (8082):
 *   /health  200
 *   /grow    allocate and write 1 MiB at a time until something kills it (never answers)
 * It writes no file (a file of its own would give the kernel pages of the unit to reclaim,
 * which a Go daemon's heap does not): the drill reads memory.current instead.
 * Built static on the controller by prepare.yml: cc -O2 -static -o smallvps-go smallvps-go.c
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static void reply(int fd, const char *body)
{
    char head[128];
    int n = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n", strlen(body));
    if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
        return;
}

int main(void)
{
    const char *port = getenv("SMALLVPS_GO_PORT");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port ? atoi(port) : 8082)};
    int one = 1, server = socket(AF_INET, SOCK_STREAM, 0);

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (server < 0 || bind(server, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(server, 16) < 0)
        return 1;
    for (;;) {
        char request[1024] = {0};
        int client = accept(server, NULL, NULL);
        if (client < 0)
            continue;
        if (read(client, request, sizeof request - 1) > 0 && strncmp(request, "GET /grow", 9) == 0) {
            for (;;) {
                char *chunk = malloc(MIB);
                if (chunk)
                    memset(chunk, 1, MIB); /* written, so really resident */
            }
        }
        reply(client, "ok\n");
        close(client);
    }
}
