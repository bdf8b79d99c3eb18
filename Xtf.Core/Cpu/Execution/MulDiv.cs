using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

internal static class MulDiv
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        _ = add;
    }
}
