package dev.reins.deploy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code reins health}: asks a server on this machine whether it is ready, for a container's health
 * check (a JRE image need not have curl). Exit code 0 when {@code /v1/health/ready} answers 200, 1
 * for any other answer or none.
 */
@Command(
    name = "health",
    description = {
        "Ask the server on this machine whether it is ready (GET /v1/health/ready): exit code 0 if it",
        "answers 200, 1 otherwise. The address follows REINS_HTTP_HOST and REINS_HTTP_PORT."})
final class HealthCommand implements Callable<Integer> {
  /** Addresses that mean "every interface": the server is reached on the loopback then. */
  private static final List<String> ANY_ADDRESS = List.of("", "0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0");

  @ParentCommand Main main;
  @Spec CommandSpec spec;

  @Option(names = "--url", paramLabel = "URL",
      description = "What to ask (default: http://<REINS_HTTP_HOST, 127.0.0.1 for 0.0.0.0>:<REINS_HTTP_PORT>/v1/health/ready).")
  URI url;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "5",
      description = "How long to wait for the answer (default: ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Override
  public Integer call() {
    URI target = url != null ? url : defaultUrl(main.config());
    if (!"http".equals(target.getScheme()) && !"https".equals(target.getScheme())) {
      throw new ParameterException(spec.commandLine(), "--url must be an http:// or https:// URL, got " + target);
    }
    if (timeoutSeconds < 1) {
      throw new ParameterException(spec.commandLine(), "--timeout must be at least 1 second");
    }
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Duration timeout = Duration.ofSeconds(timeoutSeconds);
    HttpClient client = HttpClient.newBuilder().connectTimeout(timeout).build();
    try {
      HttpResponse<String> answer = client.send(HttpRequest.newBuilder(target).timeout(timeout).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      if (answer.statusCode() == 200) {
        out.println("ready (" + target + ")");
        out.flush();
        return 0;
      }
      err.println("not ready: " + target + " answered " + answer.statusCode() + " " + answer.body().strip());
      return 1;
    } catch (IOException e) {
      err.println("not ready: " + target + " did not answer (" + e + ")");
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("not ready: interrupted while asking " + target);
      return 1;
    }
  }

  /** The server's own address as its configuration says (the loopback when it listens on every interface). */
  static URI defaultUrl(Config config) {
    String host;
    int port;
    try {
      host = config.getString("reins.http.host").trim();
      port = config.getInt("reins.http.port");
    } catch (ConfigException e) {
      throw new Main.Failure("the configuration is invalid: " + e.getMessage());
    }
    if (ANY_ADDRESS.contains(host)) {
      host = "127.0.0.1";
    } else if (host.contains(":") && !host.startsWith("[")) {
      host = "[" + host + "]"; // an IPv6 literal
    }
    return URI.create("http://" + host + ":" + port + "/v1/health/ready");
  }
}
