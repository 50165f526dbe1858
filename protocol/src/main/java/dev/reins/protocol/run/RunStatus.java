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

  @JsonCreator
  public static RunStatus fromJson(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }
}
