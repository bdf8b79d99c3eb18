using System.Globalization;
using System.Text;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>
/// An xl domain configuration file (xl.cfg(5), libxlu's grammar): <c>KEY = VALUE</c> settings,
/// a value being a quoted string, a number or a <c>[ ... ]</c> list of those; <c>#</c> starts a
/// comment; a newline or <c>;</c> ends a setting. Keys keep the last value given, as xl does.
/// </summary>
public sealed class DomainConfig
{
    private readonly Dictionary<string, object> values = new(StringComparer.Ordinal);

    private DomainConfig()
    {
    }

    /// <summary>Every key, in the order first set.</summary>
    public IReadOnlyList<string> Keys { get; private set; } = [];

    /// <summary>Parses <paramref name="text"/>; a line xl would reject is a <see cref="FormatException"/> naming its line number.</summary>
    public static DomainConfig Parse(string text)
    {
        var cfg = new DomainConfig();
        var keys = new List<string>();
        var reader = new Reader(text);
        while (reader.SkipBlank())
        {
            string key = reader.Identifier();
            reader.Expect('=');
            object value = reader.Value();
            reader.EndOfSetting();
            if (!cfg.values.ContainsKey(key))
                keys.Add(key);
            cfg.values[key] = value;
        }

        cfg.Keys = keys;
        return cfg;
    }

    /// <summary>True if <paramref name="key"/> is set.</summary>
    public bool Has(string key) => values.ContainsKey(key);

    /// <summary>A string setting, or null (a number is given in its decimal form).</summary>
    public string? String(string key) => values.GetValueOrDefault(key) switch
    {
        string s => s,
        long n => n.ToString(CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>A numeric setting (a quoted decimal is accepted, as libxl's integer settings take one), or null.</summary>
    public long? Number(string key) => values.GetValueOrDefault(key) switch
    {
        long n => n,
        string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) => n,
        _ => null,
    };

    /// <summary>A list setting's items as strings; a single value is a list of one; null if unset.</summary>
    public IReadOnlyList<string>? List(string key) => values.GetValueOrDefault(key) switch
    {
        null => null,
        List<object> items => [.. items.Select(i => Convert.ToString(i, CultureInfo.InvariantCulture)!)],
        var one => [Convert.ToString(one, CultureInfo.InvariantCulture)!],
    };

    /// <summary>True if <paramref name="key"/> is set to a <c>[ ... ]</c> list (libxlu's XLU_LIST), false for a single value or unset.</summary>
    public bool IsList(string key) => values.GetValueOrDefault(key) is List<object>;

    /// <summary>A boolean setting in libxl's forms (0/1, or a list meaning "on"), or null if unset.</summary>
    public bool? Flag(string key) => values.GetValueOrDefault(key) switch
    {
        null => null,
        long n => n != 0,
        string s => s is "1" or "true" or "yes",
        _ => true,
    };

    private sealed class Reader(string text)
    {
        private int at;
        private int line = 1;

        public bool SkipBlank()
        {
            while (at < text.Length)
            {
                char c = text[at];
                if (c == '#')
                {
                    while (at < text.Length && text[at] != '\n')
                        at++;
                }
                else if (c is '\n' or ';' or ' ' or '\t' or '\r')
                {
                    if (c == '\n')
                        line++;
                    at++;
                }
                else
                {
                    return true;
                }
            }

            return false;
        }

        public string Identifier()
        {
            int start = at;
            while (at < text.Length && (char.IsAsciiLetterOrDigit(text[at]) || text[at] == '_'))
                at++;
            if (at == start || char.IsAsciiDigit(text[start]))
                throw Error("expected a setting name");
            return text[start..at];
        }

        public void Expect(char c)
        {
            SkipSpaces(acrossLines: false);
            if (at >= text.Length || text[at] != c)
                throw Error($"expected '{c}'");
            at++;
        }

        public object Value()
        {
            SkipSpaces(acrossLines: false);
            if (at >= text.Length)
                throw Error("expected a value");
            char c = text[at];
            if (c is '"' or '\'')
                return Quoted(c);
            if (c == '[')
                return ListValue();
            int start = at;
            while (at < text.Length && (char.IsAsciiLetterOrDigit(text[at]) || text[at] is '-' or '+' or '.'))
                at++;
            string word = text[start..at];
            if (TryNumber(word, out long n))
                return n;
            throw Error($"expected a string, number or list, not '{(word.Length == 0 ? c.ToString() : word)}'");
        }

        public void EndOfSetting()
        {
            SkipSpaces(acrossLines: false);
            if (at < text.Length && text[at] is not ('\n' or ';' or '#' or '\r'))
                throw Error("expected the end of the setting");
        }

        private static bool TryNumber(string word, out long n)
        {
            if (word.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                return long.TryParse(word[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out n);
            return long.TryParse(word, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n);
        }

        private List<object> ListValue()
        {
            at++;
            var items = new List<object>();
            while (true)
            {
                SkipSpaces(acrossLines: true);
                if (at < text.Length && text[at] == ']')
                {
                    at++;
                    return items;
                }

                items.Add(Value());
                SkipSpaces(acrossLines: true);
                if (at < text.Length && text[at] == ',')
                {
                    at++;
                    continue;
                }

                if (at >= text.Length || text[at] != ']')
                    throw Error("expected ',' or ']' in a list");
            }
        }

        private string Quoted(char quote)
        {
            at++;
            var s = new StringBuilder();
            while (at < text.Length && text[at] != quote)
            {
                if (text[at] == '\n')
                    throw Error("unterminated string");
                if (text[at] == '\\' && at + 1 < text.Length)
                    at++;
                s.Append(text[at++]);
            }

            if (at >= text.Length)
                throw Error("unterminated string");
            at++;
            return s.ToString();
        }

        private void SkipSpaces(bool acrossLines)
        {
            while (at < text.Length)
            {
                char c = text[at];
                if (c is ' ' or '\t' or '\r')
                {
                    at++;
                }
                else if (acrossLines && c == '\n')
                {
                    line++;
                    at++;
                }
                else if (acrossLines && c == '#')
                {
                    while (at < text.Length && text[at] != '\n')
                        at++;
                }
                else
                {
                    return;
                }
            }
        }

        private FormatException Error(string what) => new($"line {line}: {what}");
    }
}
