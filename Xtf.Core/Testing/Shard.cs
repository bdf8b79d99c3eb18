using System.Globalization;

namespace Xtf.Core.Testing;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> (<c>--shard K/N</c>): instance i of a selection
/// (in its sorted order) belongs to shard (i mod N) + 1. Every machine of a CI matrix that makes the
/// same selection gets a disjoint part, the parts together are the selection, and their sizes
/// differ by at most one.
/// </summary>
public readonly record struct Shard(int Index, int Count)
{
    /// <summary>Parses <c>K/N</c> with 1 &lt;= K &lt;= N; anything else is a <see cref="SelectionException"/>.</summary>
    public static Shard Parse(string text)
    {
        string[] parts = text.Split('/');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            && n >= 1 && k >= 1 && k <= n)
            return new Shard(k, n);
        throw new SelectionException($"Invalid shard '{text}': expected K/N with 1 <= K <= N");
    }

    /// <summary>This shard's part of <paramref name="selection"/>, in the selection's order.</summary>
    public IReadOnlyList<TestInstance> Of(IReadOnlyList<TestInstance> selection)
    {
        int index = Index, count = Count;
        return [.. selection.Where((_, i) => i % count == index - 1)];
    }

    /// <summary><c>K/N</c>, the form <see cref="Parse"/> accepts.</summary>
    public override string ToString() => $"{Index}/{Count}";
}
