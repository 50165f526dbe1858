package dev.reins.deploy;

import com.typesafe.config.ConfigFactory;
import dev.reins.http.ReinsServer;

/**
 * Starts one Reins server with the configuration from application.conf (environment variables
 * {@code REINS_*}) over the modules' reference.conf defaults. The process stops on SIGTERM/SIGINT
 * through Pekko's coordinated shutdown.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    ReinsServer server;
    try {
      server = ReinsServer.start(ConfigFactory.load());
    } catch (RuntimeException e) {
      System.err.println(e.getMessage());
      System.exit(1);
      return;
    }
    server.system().getWhenTerminated().thenRun(() -> System.exit(0));
  }
}
