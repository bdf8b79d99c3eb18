using System.Globalization;
using System.Xml;

namespace Xtf.Core.Testing.Reports;

/// <summary>
/// The run as a JUnit XML report (the common Ant/Jenkins schema: testsuites, testsuite,
/// testcase with failure, error or skipped, and system-out), one testcase per instance, named by
/// its instance id with its category and test as the class name. FAILURE is a failure; ERROR and
/// CRASH are errors (with the crash reason, and a host exception's stack trace as the body); SKIP
/// is skipped; the console log is system-out.
/// </summary>
public static class JUnitReport
{
    /// <summary>
    /// Writes the report for <paramref name="outcomes"/>, in their order, to <paramref name="output"/>: one
    /// testsuite named <c>xtf</c>, with the testsuites element repeating its tests/failures/errors/skipped counts
    /// and time. Times are seconds with three decimals (the sum of the instances' times, not wall time); characters
    /// XML 1.0 cannot carry become U+FFFD. An <paramref name="interrupted"/> run's testsuite starts with
    /// <c>properties</c> (part of the schema, ignored by tools that do not look for them):
    /// <c>incomplete</c> = <c>true</c>, <c>interrupted_by</c> = the signal, <c>not_run</c> = the instances never
    /// started; its counts are those of the instances that ran.
    /// </summary>
    public static void Write(TextWriter output, IReadOnlyList<InstanceOutcome> outcomes, Interruption? interrupted = null)
    {
        var settings = new XmlWriterSettings { Indent = true, OmitXmlDeclaration = false };
        using var xml = XmlWriter.Create(output, settings);
        int failures = outcomes.Count(o => o.Result == TestResult.Failure);
        int errors = outcomes.Count(o => o.Result is TestResult.Error or TestResult.Crash);
        int skipped = outcomes.Count(o => o.Result == TestResult.Skip);
        string time = Seconds(outcomes.Aggregate(TimeSpan.Zero, (t, o) => t + o.Elapsed));

        xml.WriteStartDocument();
        xml.WriteStartElement("testsuites");
        WriteCounts(xml, "xtf", outcomes.Count, failures, errors, skipped, time);
        xml.WriteStartElement("testsuite");
        WriteCounts(xml, "xtf", outcomes.Count, failures, errors, skipped, time);
        if (interrupted is not null)
        {
            xml.WriteStartElement("properties");
            WriteProperty(xml, "incomplete", "true");
            WriteProperty(xml, "interrupted_by", interrupted.Reason);
            WriteProperty(xml, "not_run", interrupted.NotRun.ToString(CultureInfo.InvariantCulture));
            xml.WriteEndElement();
        }

        foreach (var o in outcomes)
            WriteCase(xml, o);
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    private static void WriteCounts(XmlWriter xml, string name, int tests, int failures, int errors, int skipped, string time)
    {
        xml.WriteAttributeString("name", name);
        xml.WriteAttributeString("tests", tests.ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("failures", failures.ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("errors", errors.ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("skipped", skipped.ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("time", time);
    }

    private static void WriteProperty(XmlWriter xml, string name, string value)
    {
        xml.WriteStartElement("property");
        xml.WriteAttributeString("name", name);
        xml.WriteAttributeString("value", value);
        xml.WriteEndElement();
    }

    private static void WriteCase(XmlWriter xml, InstanceOutcome o)
    {
        xml.WriteStartElement("testcase");
        xml.WriteAttributeString("name", o.Instance.Id);
        xml.WriteAttributeString("classname", (o.Instance.Test.Upstream is null ? "" : TestDescriptor.UpstreamOrigin + ".") + $"{Categories.Name(o.Instance.Test.Category)}.{o.Instance.Test.Name}");
        xml.WriteAttributeString("time", Seconds(o.Elapsed));
        string result = TestResults.Name(o.Result);
        string message = o.Result == TestResult.Crash && !string.IsNullOrEmpty(o.Diagnostic) ? $"{result}: {o.Diagnostic}" : result;
        string? element = o.Result switch
        {
            TestResult.Failure => "failure",
            TestResult.Error or TestResult.Crash => "error",
            TestResult.Skip => "skipped",
            _ => null,
        };
        if (element is not null)
        {
            xml.WriteStartElement(element);
            xml.WriteAttributeString("message", Clean(message));
            if (element != "skipped")
                xml.WriteAttributeString("type", result);

            // A host exception's full trace is the error's body, where JUnit readers show a stack trace.
            if (element == "error" && o.HostException is { } trace)
                xml.WriteString(Clean(trace));
            xml.WriteEndElement();
        }

        xml.WriteElementString("system-out", Clean(o.ConsoleLog));
        xml.WriteEndElement();
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>XML 1.0 cannot carry most control characters a guest may print: they become U+FFFD.</summary>
    private static string Clean(string text) =>
        string.Create(text.Length, text, (span, s) =>
        {
            for (int i = 0; i < s.Length; i++)
            {
                bool pair = i + 1 < s.Length && XmlConvert.IsXmlSurrogatePair(s[i + 1], s[i]);
                if (pair)
                {
                    span[i] = s[i];
                    span[++i] = s[i];
                    continue;
                }

                span[i] = XmlConvert.IsXmlChar(s[i]) ? s[i] : '\uFFFD';
            }
        });
}
