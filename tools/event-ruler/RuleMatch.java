import java.nio.file.Files;
import java.nio.file.Path;
import software.amazon.event.ruler.Ruler;

/**
 * Prints, for each event file given after the pattern file, "true" or "false": whether
 * EventBridge's matching engine matches the event against the pattern.
 *
 * Run as a single-file program: java -cp '<jars>/*' RuleMatch.java pattern.json event.json...
 */
public class RuleMatch {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: RuleMatch PATTERN_FILE EVENT_FILE...");
            System.exit(2);
        }
        String pattern = Files.readString(Path.of(args[0]));
        for (int i = 1; i < args.length; i++) {
            String event = Files.readString(Path.of(args[i]));
            System.out.println(Ruler.matchesRule(event, pattern));
        }
    }
}
