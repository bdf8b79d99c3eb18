using System.Text.Json;
using Xtf.Core.Guest;
using Xen = Xtf.Core.Xen;

namespace Xtf.Core.Testing.Reports;

/// <summary>
/// A test's metadata as XTF's generated info.json has it (name, category, environments,
/// variations), plus what Xtf.NET adds: the title line and the quirks the test guards.
/// </summary>
public static class TestInfo
{
    /// <summary>
    /// Writes UTF-8 JSON to <paramref name="output"/> with the keys of XTF's build/mkinfo.py in its order
    /// (<c>name</c>, <c>category</c>, <c>environments</c>, <c>variations</c>, empty lists when there are none),
    /// then <c>title</c> and <c>guards</c> (quirk names). Environments are in xtf-runner's sorted order, not
    /// the Makefile's <c>TEST-ENVS</c> order. An upstream test has only mkinfo.py's four keys.
    /// </summary>
    public static void Write(Stream output, TestDescriptor test)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("name", test.Name);
        json.WriteString("category", Categories.Name(test.Category));
        json.WriteStartArray("environments");
        foreach (var env in GuestEnvironment.Expand(test.Environments))
            json.WriteStringValue(GuestEnvironment.Name(env));
        json.WriteEndArray();
        json.WriteStartArray("variations");
        foreach (string v in test.Variations)
            json.WriteStringValue(v);
        json.WriteEndArray();
        if (test.Upstream is not null)
        {
            // An upstream test is its info.json: mkinfo.py writes these four keys and no more.
            json.WriteEndObject();
            return;
        }

        json.WriteString("title", test.Title);
        json.WriteStartArray("guards");
        foreach (var q in test.Guards)
            json.WriteStringValue(Xen.Quirks.Name(q));
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
