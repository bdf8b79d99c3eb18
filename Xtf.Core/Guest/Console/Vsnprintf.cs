namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// XTF's vsnprintf_internal (common/libc/vsnprintf.c) after formatting: C# interpolation has
/// already applied the conversions, so what is left is XTF's output rule. With
/// <see cref="LfToCrlf"/> (include/xtf/libc.h, bit 7) every "\n", whether from the format string,
/// a <c>%c</c> or a <c>%s</c>, is preceded by "\r" (an existing "\r" is kept, so "\r\n" becomes
/// "\r\r\n", as in XTF); without it the text is copied as it is. At most
/// <c>buffer.Length - 1</c> characters are stored and the buffer is NUL-terminated if it has
/// room (else truncated at its last byte); the result is the length the whole output needs,
/// excluding the NUL.
/// </summary>
public static class Vsnprintf
{
    /// <summary>LF_TO_CRLF (include/xtf/libc.h): expand "\n" to "\r\n". printk passes it (common/console.c vprintk).</summary>
    public const uint LfToCrlf = 1u << 7;

    /// <summary>vsnprintf_internal's output of the already formatted <paramref name="text"/> (Latin-1) into <paramref name="buffer"/>.</summary>
    public static int Format(Span<byte> buffer, string text, uint flags)
    {
        int length = 0;
        foreach (char c in text)
        {
            if ((flags & LfToCrlf) != 0 && c == '\n')
                Put(buffer, ref length, (byte)'\r');
            Put(buffer, ref length, (byte)(c <= 0xFF ? c : '?')); // Latin-1, as printk's bytes
        }

        if (length < buffer.Length)
            buffer[length] = 0;
        else if (buffer.Length > 0)
            buffer[^1] = 0;
        return length;
    }

    /// <summary>The whole output as bytes (no NUL), the form printk hands to the consoles.</summary>
    public static byte[] Format(string text, uint flags)
    {
        int length = Format([], text, flags);
        var bytes = new byte[length + 1];
        Format(bytes, text, flags);
        return bytes[..length];
    }

    /// <summary>XTF's PUT(c): store when there is room, count always.</summary>
    private static void Put(Span<byte> buffer, ref int length, byte c)
    {
        if (length < buffer.Length)
            buffer[length] = c;
        length++;
    }
}
