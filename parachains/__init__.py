"""The demand, DG and storage parachains: their runtimes (`runtimes`) and market pallets
(`registry`, `meters`, `orders`), with the rules they share (`roles`, `periods`,
`certificates`). Pure runtime code: no I/O, no clocks, no floats."""
