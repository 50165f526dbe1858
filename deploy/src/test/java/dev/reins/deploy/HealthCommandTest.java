package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code reins health}, the container's health check: exit code 0 only when the server answers
 * 200 on its readiness endpoint; 1 when it answers anything else or nothing.
 */
class HealthCommandTest {
  private HttpServer server;
  private final AtomicInteger status = new AtomicInteger(200);
  private final AtomicInteger asked = new AtomicInteger();

  @BeforeEach
  void startStandIn() throws IOException {
    // a stand-in for a server's health endpoint: answers what the test sets
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/v1/health/ready", exchange -> {
      asked.incrementAndGet();
      byte[] body = (status.get() == 200 ? "{\"status\":\"ready\"}" : "{\"type\":\"urn:reins:problem:not-ready\"}")
          .getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(status.get(), body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
  }

  @AfterEach
  void stopStandIn() {
    server.stop(0);
  }

  @Test
  void readyIsExitCodeZeroAndAnythingElseIsOne() {
    String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/health/ready";
    CliRun ready = CliRun.of(ConfigFactory.load(), "health", "--url", url);
    assertEquals(0, ready.exit(), ready.err());
    assertTrue(ready.out().startsWith("ready"), ready.out());

    status.set(503);
    CliRun notReady = CliRun.of(ConfigFactory.load(), "health", "--url", url);
    assertEquals(1, notReady.exit());
    assertTrue(notReady.err().contains("answered 503"), notReady.err());
    assertEquals(2, asked.get());

    server.stop(0);
    CliRun nobody = CliRun.of(ConfigFactory.load(), "health", "--url", url, "--timeout", "2");
    assertEquals(1, nobody.exit());
    assertTrue(nobody.err().contains("did not answer"), nobody.err());
  }

  @Test
  void withoutUrlItAsksTheServersOwnPortOnTheLoopbackWhenItListensEverywhere() {
    Config config = ConfigFactory.parseMap(Map.of(
        "reins.http.host", "0.0.0.0", "reins.http.port", server.getAddress().getPort())).withFallback(ConfigFactory.load());
    assertEquals(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/v1/health/ready"),
        HealthCommand.defaultUrl(config));
    CliRun ready = CliRun.of(config, "health");
    assertEquals(0, ready.exit(), ready.err());
    assertEquals(1, asked.get());

    Config own = ConfigFactory.parseMap(Map.of("reins.http.host", "::1", "reins.http.port", 8080))
        .withFallback(ConfigFactory.load());
    assertEquals(URI.create("http://[::1]:8080/v1/health/ready"), HealthCommand.defaultUrl(own));
  }

  @Test
  void aUrlThatIsNotHttpIsAUsageError() {
    CliRun bad = CliRun.of(ConfigFactory.load(), "health", "--url", "file:///etc/passwd");
    assertEquals(2, bad.exit());
    assertTrue(bad.err().contains("--url must be an http"), bad.err());
  }
}
