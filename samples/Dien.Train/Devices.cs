using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Train;

/// <summary>Turns --device into a TorchSharp device, with a clear message when CUDA is not there.</summary>
internal static class Devices
{
    /// <exception cref="ArgumentException">CUDA was asked for but is not available.</exception>
    public static Device Pick(string name)
    {
        if (name == "cuda")
        {
            if (!torch.cuda.is_available())
            {
                throw new ArgumentException(
                    "--device cuda: CUDA is not available. This build uses the CPU backend (TorchSharp-cpu); on a machine with an NVIDIA GPU, build with -p:DienCuda=true.");
            }

            return CUDA;
        }

        return CPU;
    }
}
