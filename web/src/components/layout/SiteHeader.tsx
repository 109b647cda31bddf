"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

import { WalletButton } from "./WalletButton";

const LINKS = [
  { href: "/", label: "Tasks" },
  { href: "/tasks/new", label: "Create a task" },
  { href: "/account", label: "Account" },
];

export function SiteHeader() {
  const pathname = usePathname();
  return (
    <header className="site-header">
      <Link href="/" className="brand">
        fed<span>chain</span>
      </Link>
      <nav className="site-nav" aria-label="Main">
        {LINKS.map(({ href, label }) => (
          <Link key={href} href={href} aria-current={pathname === href ? "page" : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <div className="wallet-slot">
        <WalletButton />
      </div>
    </header>
  );
}
