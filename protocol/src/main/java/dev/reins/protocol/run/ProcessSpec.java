package dev.reins.protocol.run;

import java.util.List;
import java.util.Map;

/**
 * An OS process: argv exactly as given (no implicit shell), extra environment variables and an
 * optional working directory ({@code null} means the server's data directory for the run).
 */
public record ProcessSpec(List<String> command, Map<String, String> env, String workdir)
    implements ExecutorSpec {
  public ProcessSpec {
    command = List.copyOf(command);
    env = env == null ? Map.of() : Map.copyOf(env);
  }
}
