package dev.reins.protocol.api;

import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RetryPolicy;
import dev.reins.protocol.run.RunSpec;
import java.util.List;
import java.util.Map;

/**
 * The body of {@code POST /v1/runs}. Every field but {@code executor.command} is optional; {@link
 * #toSpec} applies the server's defaults and validates, naming the first offending field.
 */
public record SubmitRunRequest(
    Executor executor,
    Long timeoutSeconds,
    Long cancelGraceSeconds,
    Retry retry,
    Map<String, String> labels,
    String idempotencyKey) {

  public record Executor(String type, List<String> command, Map<String, String> env, String workdir) {}

  public record Retry(Integer maxAttempts, Long backoffSeconds) {}

  /** Server-side defaults, from configuration. */
  public record Defaults(long timeoutSeconds, long cancelGraceSeconds, int maxAttempts, long backoffSeconds) {}

  /** Either a valid spec or the field that is wrong and why. */
  public record Validated(RunSpec spec, String field, String detail) {
    static Validated invalid(String field, String detail) {
      return new Validated(null, field, detail);
    }

    public boolean isValid() {
      return spec != null;
    }
  }

  public static final int MAX_IDEMPOTENCY_KEY = 200;
  static final int MAX_LABELS = 64;
  public static final int MAX_LABEL_NAME = 200;
  public static final int MAX_LABEL_VALUE = 1000;

  public Validated toSpec(Defaults defaults) {
    if (executor == null) {
      return Validated.invalid("executor", "executor is required");
    }
    if (executor.type() != null && !"process".equals(executor.type())) {
      return Validated.invalid("executor.type", "unknown executor type '" + executor.type() + "' (known: process)");
    }
    if (executor.command() == null || executor.command().isEmpty()) {
      return Validated.invalid("executor.command", "command is required: a non-empty array of strings (argv)");
    }
    for (int i = 0; i < executor.command().size(); i++) {
      String arg = executor.command().get(i);
      if (arg == null || arg.indexOf('\0') >= 0) {
        return Validated.invalid("executor.command[" + i + "]", "must be a string without NUL characters");
      }
    }
    if (executor.command().get(0).isBlank()) {
      return Validated.invalid("executor.command[0]", "the executable must not be blank");
    }
    if (executor.env() != null) {
      for (Map.Entry<String, String> e : executor.env().entrySet()) {
        if (e.getKey().isEmpty() || e.getKey().indexOf('=') >= 0 || e.getKey().indexOf('\0') >= 0) {
          return Validated.invalid("executor.env", "invalid variable name '" + e.getKey() + "'");
        }
        if (e.getValue() == null || e.getValue().indexOf('\0') >= 0) {
          return Validated.invalid("executor.env." + e.getKey(), "must be a string without NUL characters");
        }
      }
    }
    if (executor.workdir() != null && (executor.workdir().isBlank() || executor.workdir().indexOf('\0') >= 0)) {
      return Validated.invalid("executor.workdir", "must be a non-blank path or null");
    }
    if (executor.workdir() != null && !executor.workdir().startsWith("/")) {
      // relative to what? the server's working directory is an accident of how it was started
      return Validated.invalid("executor.workdir", "must be an absolute path (or null for the run's own directory)");
    }
    long timeout = timeoutSeconds == null ? defaults.timeoutSeconds() : timeoutSeconds;
    if (timeout < 1 || timeout > 365L * 24 * 3600) {
      return Validated.invalid("timeoutSeconds", "must be between 1 and 31536000");
    }
    long grace = cancelGraceSeconds == null ? defaults.cancelGraceSeconds() : cancelGraceSeconds;
    if (grace < 0 || grace > 3600) {
      return Validated.invalid("cancelGraceSeconds", "must be between 0 and 3600");
    }
    int maxAttempts = retry == null || retry.maxAttempts() == null ? defaults.maxAttempts() : retry.maxAttempts();
    if (maxAttempts < 1 || maxAttempts > 1000) {
      return Validated.invalid("retry.maxAttempts", "must be between 1 and 1000");
    }
    long backoff = retry == null || retry.backoffSeconds() == null ? defaults.backoffSeconds() : retry.backoffSeconds();
    if (backoff < 0 || backoff > 24 * 3600) {
      return Validated.invalid("retry.backoffSeconds", "must be between 0 and 86400");
    }
    if (labels != null) {
      if (labels.size() > MAX_LABELS) {
        return Validated.invalid("labels", "at most " + MAX_LABELS + " labels");
      }
      for (Map.Entry<String, String> e : labels.entrySet()) {
        if (e.getKey().isEmpty() || e.getValue() == null) {
          return Validated.invalid("labels", "label names must be non-empty and values strings");
        }
        // the run list filters on labels (an indexed table): bounded names and values
        if (e.getKey().length() > MAX_LABEL_NAME || e.getValue().length() > MAX_LABEL_VALUE) {
          return Validated.invalid("labels", "label names are at most " + MAX_LABEL_NAME + " characters, values at most "
              + MAX_LABEL_VALUE);
        }
      }
    }
    if (idempotencyKey != null && (idempotencyKey.isEmpty() || idempotencyKey.length() > MAX_IDEMPOTENCY_KEY)) {
      return Validated.invalid("idempotencyKey", "must be 1 to " + MAX_IDEMPOTENCY_KEY + " characters");
    }
    ProcessSpec process = new ProcessSpec(executor.command(), executor.env(), executor.workdir());
    return new Validated(
        new RunSpec(process, timeout, grace, new RetryPolicy(maxAttempts, backoff), labels, idempotencyKey),
        null,
        null);
  }
}
