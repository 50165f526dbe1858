package dev.reins.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.reins.protocol.json.ReinsJson;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** {@code --json} (the HTTP API's shapes, for scripts) or text for people: aligned columns, UTC times. */
final class Output {
  @Option(names = "--json", description = "Print JSON, as the HTTP API answers.")
  boolean json;

  void json(CommandSpec spec, Object value) {
    PrintWriter out = spec.commandLine().getOut();
    try {
      out.println(ReinsJson.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(value));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("an API type did not serialize", e);
    }
    out.flush();
  }

  static String time(Instant t) {
    return t == null ? "" : t.truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /** Columns as wide as their widest cell; the last column is not padded (it may hold spaces). */
  static final class Table {
    private final List<String[]> rows = new ArrayList<>();

    Table(String... header) {
      rows.add(header);
    }

    void row(String... cells) {
      rows.add(cells);
    }

    void print(PrintWriter out) {
      int columns = rows.get(0).length;
      int[] widths = new int[columns];
      for (String[] row : rows) {
        for (int i = 0; i < columns; i++) {
          widths[i] = Math.max(widths[i], row[i].length());
        }
      }
      for (String[] row : rows) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < columns; i++) {
          line.append(i == columns - 1 ? row[i] : String.format("%-" + (widths[i] + 2) + "s", row[i]));
        }
        out.println(line.toString().stripTrailing());
      }
      out.flush();
    }
  }
}
