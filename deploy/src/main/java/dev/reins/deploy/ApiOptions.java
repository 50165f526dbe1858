package dev.reins.deploy;

import dev.reins.client.ReinsClient;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Where the commands that speak HTTP find the server and their token: {@code --url}/{@code --token},
 * else {@code REINS_URL} (inside a run: {@code REINS_API_URL}) and {@code REINS_TOKEN}, else the
 * server of this machine's configuration and the admin token its first start wrote to
 * {@code <data dir>/admin.token}.
 */
final class ApiOptions {
  @Spec(Spec.Target.MIXEE) CommandSpec mixee;

  @Option(names = "--url", paramLabel = "URL",
      description = "The server, e.g. http://127.0.0.1:8080 (default: REINS_URL, or this machine's REINS_HTTP_HOST/PORT).")
  URI url;

  @Option(names = "--token", paramLabel = "TOKEN",
      description = "API token (default: REINS_TOKEN, or <REINS_DATA_DIR or ./data>/admin.token).")
  String token;

  private Main main() {
    return (Main) mixee.root().userObject();
  }

  ReinsClient client() {
    return ReinsClient.builder(server()).token(token()).build();
  }

  URI server() {
    URI chosen = url;
    if (chosen == null) {
      String fromEnv = firstSet("REINS_URL", "REINS_API_URL");
      chosen = fromEnv != null ? parse(fromEnv, "REINS_URL") : HealthCommand.defaultUrl(main().config()).resolve("/");
    }
    if (!"http".equals(chosen.getScheme()) && !"https".equals(chosen.getScheme()) || chosen.getHost() == null) {
      throw new ParameterException(mixee.commandLine(), "--url must be an http:// or https:// URL with a host, got " + chosen);
    }
    return chosen;
  }

  String token() {
    if (token != null) {
      return token;
    }
    String fromEnv = firstSet("REINS_TOKEN");
    if (fromEnv != null) {
      return fromEnv;
    }
    String dir = main().config().hasPath("reins.data-dir") ? main().config().getString("reins.data-dir") : "data";
    Path file = Paths.get(dir.isBlank() ? "data" : dir, "admin.token");
    if (Files.isReadable(file)) {
      try {
        return Files.readString(file, StandardCharsets.UTF_8).strip();
      } catch (IOException e) {
        throw new Main.Failure("cannot read " + file + ": " + e.getMessage());
      }
    }
    throw new ParameterException(mixee.commandLine(),
        "no token: give --token, set REINS_TOKEN, or run where the server's " + file + " is readable");
  }

  private String firstSet(String... names) {
    for (String name : names) {
      String v = main().env(name);
      if (v != null && !v.isBlank()) {
        return v.strip();
      }
    }
    return null;
  }

  private URI parse(String text, String what) {
    try {
      return URI.create(text);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(mixee.commandLine(), what + " is not a URL: " + text);
    }
  }
}
