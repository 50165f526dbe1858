package dev.reins.protocol.run;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** The states of a run, as they appear in JSON. */
public enum RunStatus {
  PENDING,
  RUNNING,
  CANCELLING,
  CANCELLED,
  SUCCEEDED,
  FAILED,
  TIMED_OUT;

  public boolean isTerminal() {
    return this == CANCELLED || this == SUCCEEDED || this == FAILED || this == TIMED_OUT;
  }

  @JsonValue
  public String json() {
    return name().toLowerCase(Locale.ROOT);
  }

  // DELEGATING said explicitly: Pekko's Jackson serializer (snapshots of RunState) registers the
  // parameter-names module, with which a bare @JsonCreator taking one argument is read as a
  // properties creator and every snapshot holding a status fails to deserialize.
  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static RunStatus fromJson(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }
}
