# frozen_string_literal: true

# vagrant/fstab.rb against stand-ins for Vagrant's plugin API (records what a
# plugin registers) and for Vagrant's Linux capability persist_mount_shared_folder
# (records its calls). Run by tests/fstab.rs, one test per process (`ruby
# tests/ruby/fstab_test.rb -n test_NAME`), with LABCTL_FSTAB naming the file
# under test.

require 'minitest/autorun'

module Vagrant
  # What Vagrant.plugin('2') returns: the base class plugins inherit from.
  class StandInPlugin
    REGISTERED = []

    def self.name(name = nil)
      name ? @plugin_name = name : @plugin_name
    end

    def self.description(_text); end

    def self.guest_capability(guest, cap, &block)
      REGISTERED << [guest, cap, block]
    end
  end

  def self.plugin(version)
    raise ArgumentError, "plugin API #{version}" unless version == '2'

    StandInPlugin
  end
end

module VagrantPlugins
  module GuestLinux
    module Cap
      class PersistMountSharedFolder
        CALLS = []

        def self.persist_mount_shared_folder(machine, folders)
          CALLS << [machine, folders]
        end
      end
    end
  end
end

require ENV.fetch('LABCTL_FSTAB')

class FstabTest < Minitest::Test
  VAGRANT_CAP = VagrantPlugins::GuestLinux::Cap::PersistMountSharedFolder

  def persist(folders)
    LabctlFstab::Cap.persist_mount_shared_folder(:machine, folders)
  end

  # The capability is registered for the debian guest and its block gives
  # labctl's module.
  def test_registered_for_debian
    caps = Vagrant::StandInPlugin::REGISTERED.map { |guest, cap, block| [guest, cap, block.call] }
    assert_equal [[:debian, :persist_mount_shared_folder, LabctlFstab::Cap]], caps
  end

  # No synced folder (what Vagrant passes for labctl's nodes: {}), or types
  # with none: Vagrant's capability, and so its SSH commands, never runs.
  def test_no_folders_runs_nothing
    persist({})
    persist({ docker: {} })
    assert_empty VAGRANT_CAP::CALLS
  end

  # A folder to persist, and nil (allow_fstab_modification off: Vagrant
  # removes its block), reach Vagrant's capability unchanged.
  def test_anything_else_goes_to_vagrant
    folders = { docker: { '/srv' => { guestpath: '/srv', hostpath: '/tmp/srv' } } }
    persist(folders)
    persist(nil)
    assert_equal [[:machine, folders], [:machine, nil]], VAGRANT_CAP::CALLS
  end
end
