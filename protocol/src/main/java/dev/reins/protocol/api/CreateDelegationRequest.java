package dev.reins.protocol.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationTarget;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * The body of {@code POST /v1/runs/{id}/delegations}. Only {@code target} is required; {@link
 * #toSpec} applies the defaults and validates, naming the first offending field. The target's
 * fields are read flat (one record for both types) so that a field that does not belong to the
 * target's type is named in the error rather than silently ignored.
 */
public record CreateDelegationRequest(Target target, Long timeoutSeconds, String idempotencyKey, String onParentEnd) {

  public record Target(String type, String url, Message message, SubmitRunRequest.Executor executor, Long timeoutSeconds) {}

  public record Message(String text, JsonNode data) {}

  public record Defaults(long timeoutSeconds, SubmitRunRequest.Defaults runs) {}

  /** Either a valid spec or the field that is wrong and why. */
  public record Validated(DelegationSpec spec, String field, String detail) {
    static Validated invalid(String field, String detail) {
      return new Validated(null, field, detail);
    }

    public boolean isValid() {
      return spec != null;
    }
  }

  static final long MAX_TIMEOUT = 7L * 24 * 3600;
  static final int MAX_TEXT = 256 * 1024;

  public Validated toSpec(Defaults defaults) {
    if (target == null) {
      return Validated.invalid("target", "target is required: {\"type\":\"a2a\",...} or {\"type\":\"run\",...}");
    }
    DelegationTarget parsed;
    if ("a2a".equals(target.type())) {
      if (target.executor() != null) {
        return Validated.invalid("target.executor", "an a2a target has no executor");
      }
      if (target.timeoutSeconds() != null) {
        return Validated.invalid("target.timeoutSeconds", "an a2a target has no timeoutSeconds (the delegation's own is at the top level)");
      }
      if (target.url() == null || target.url().isBlank()) {
        return Validated.invalid("target.url", "the agent's URL is required");
      }
      String urlProblem = urlProblem(target.url());
      if (urlProblem != null) {
        return Validated.invalid("target.url", urlProblem);
      }
      Message m = target.message();
      if (m == null || (m.text() == null && (m.data() == null || m.data().isNull()))) {
        return Validated.invalid("target.message", "a message with text and/or data is required");
      }
      if (m.text() != null && m.text().length() > MAX_TEXT) {
        return Validated.invalid("target.message.text", "at most " + MAX_TEXT + " characters");
      }
      if (m.data() != null && !m.data().isNull() && !m.data().isObject()) {
        return Validated.invalid("target.message.data", "must be a JSON object");
      }
      parsed = new DelegationTarget.A2a(target.url(), new DelegationTarget.Message(m.text(), m.data() == null || m.data().isNull() ? null : m.data()));
    } else if ("run".equals(target.type())) {
      if (target.url() != null) {
        return Validated.invalid("target.url", "a run target has no url");
      }
      if (target.message() != null) {
        return Validated.invalid("target.message", "a run target has no message");
      }
      SubmitRunRequest child = new SubmitRunRequest(target.executor(), target.timeoutSeconds(), null, null, null, null);
      SubmitRunRequest.Validated v = child.toSpec(defaults.runs());
      if (!v.isValid()) {
        return Validated.invalid("target." + v.field(), v.detail());
      }
      parsed = new DelegationTarget.Run((dev.reins.protocol.run.ProcessSpec) v.spec().executor(), v.spec().timeoutSeconds());
    } else {
      return Validated.invalid("target.type", target.type() == null
          ? "target.type is required: a2a or run"
          : "unknown target type '" + target.type() + "' (known: a2a, run)");
    }
    long timeout = timeoutSeconds == null ? defaults.timeoutSeconds() : timeoutSeconds;
    if (timeout < 1 || timeout > MAX_TIMEOUT) {
      return Validated.invalid("timeoutSeconds", "must be between 1 and " + MAX_TIMEOUT);
    }
    DelegationSpec.OnParentEnd onEnd;
    if (onParentEnd == null) {
      onEnd = DelegationSpec.OnParentEnd.CANCEL;
    } else if (onParentEnd.equals("cancel") || onParentEnd.equals("abandon")) {
      onEnd = DelegationSpec.OnParentEnd.valueOf(onParentEnd.toUpperCase(Locale.ROOT));
    } else {
      return Validated.invalid("onParentEnd", "must be cancel or abandon");
    }
    if (idempotencyKey != null && (idempotencyKey.isEmpty() || idempotencyKey.length() > SubmitRunRequest.MAX_IDEMPOTENCY_KEY)) {
      return Validated.invalid("idempotencyKey", "must be 1 to " + SubmitRunRequest.MAX_IDEMPOTENCY_KEY + " characters");
    }
    return new Validated(new DelegationSpec(parsed, timeout, onEnd, idempotencyKey), null, null);
  }

  /** Why {@code url} cannot name an agent, or {@code null}: absolute http(s), a host, no user info. */
  static String urlProblem(String url) {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      return "not a URL: " + e.getReason();
    }
    if (uri.getScheme() == null || !(uri.getScheme().equalsIgnoreCase("http") || uri.getScheme().equalsIgnoreCase("https"))) {
      return "must be an http or https URL";
    }
    if (uri.getHost() == null || uri.getHost().isEmpty()) {
      return "must name a host";
    }
    if (uri.getRawUserInfo() != null) {
      return "must not carry user info (credentials belong in the server's configuration)";
    }
    if (uri.getRawFragment() != null) {
      return "must not have a fragment";
    }
    return null;
  }
}
